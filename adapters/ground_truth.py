"""`ground-truth`: returns the reference frames. The ceiling every metric should max out at."""

from __future__ import annotations

from adapters.base import Adapter, Capabilities
from benchmark.core.types import GenerationRequest, Video


class GroundTruthAdapter(Adapter):
    name = "ground-truth"
    description = "The reference video itself (upper bound; checks the metrics, not a model)"
    capabilities = Capabilities(uses_audio=False, uses_identity=False, uses_reference_frames=True)
    accepted_args = ()
    frames_depend_on_threads = False  # the reference frames as decoded

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        return Video(request.clip.load_frames(), request.clip.fps)
