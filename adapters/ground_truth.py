"""`ground-truth`: returns the reference frames. The ceiling every metric should max out at.

`--model-args delay=K` shifts them K frames late (K < 0: early), holding the first (last) frame, so
the sync metrics can be checked: a ground truth delayed by K frames must report an offset of K.
"""

from __future__ import annotations

import numpy as np

from adapters.base import Adapter, Capabilities
from benchmark.core.errors import BenchError
from benchmark.core.types import GenerationRequest, Video

MAX_DELAY = 50


class GroundTruthAdapter(Adapter):
    name = "ground-truth"
    description = (
        "The reference video itself (upper bound; checks the metrics, not a model); "
        "delay=K shows it K frames late, for the sync metrics"
    )
    capabilities = Capabilities(uses_audio=False, uses_identity=False, uses_reference_frames=True)
    accepted_args = ("delay",)
    frames_depend_on_threads = False  # the reference frames as decoded

    def __init__(self, **config):
        super().__init__(**config)
        raw = config.get("delay", 0)
        try:
            self.delay = int(str(raw).strip())
        except ValueError:
            raise BenchError(
                f"ground-truth: delay={raw!r} is not a whole number of frames",
                hint="--model-args delay=3 (frames; negative shows the video early)",
            ) from None
        if abs(self.delay) > MAX_DELAY:
            raise BenchError(
                f"ground-truth: delay={self.delay} frames is beyond ±{MAX_DELAY}",
                hint=f"choose a delay within ±{MAX_DELAY} frames",
            )

    def default_label(self) -> str:
        return f"{self.name}-delay{self.delay}" if self.delay else super().default_label()

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        return Video(delayed(request.clip.load_frames(), self.delay), request.clip.fps)


def delayed(frames: np.ndarray, k: int) -> np.ndarray:
    """Frame t shows frame t − k (clamped to the clip): the video k frames late, same length."""
    index = np.clip(np.arange(len(frames)) - k, 0, len(frames) - 1)
    return frames[index]
