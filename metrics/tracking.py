"""The harness's clip metrics as `torchmetrics.Metric`s, for tracking in a training or validation loop.

    lmd = ClipMetric("lmd")                       # or "bilabial", "blink-vougioukas", "cpbd", "acd", ...
    for batch in loader:
        lmd.update(generated_frames, target_frames, phones=phones)   # one clip per call
    lmd.compute()                                 # the number `bench run` would report for those clips

Each update scores one clip exactly as a run does (the same metric class, convention and backend)
and folds it into tensor states that torchmetrics sums across processes under DDP. The states are
the running sums the metric's declared aggregation names (metrics/aggregation.py): the sum of clip
values for a mean over clips, or each pooled count (blinks and seconds, events and closures) for
metrics pooled over the protocol; the value is computed from them by the same declaration. A clip
the metric cannot score (no face found) is counted in `clips_failed` and skipped, never raised
mid-training; a metric given nothing it could ever score (bilabial without `phones`) raises at
once, with the reason. An aggregation that needs the whole set (FID, KID, FVD) declares why it
cannot be tracked, and is refused before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torchmetrics import Metric as TorchMetric

from benchmark.core.errors import ClipError, MetricNotApplicable
from benchmark.core.settings import Settings
from benchmark.core.video import Video
from metrics.context import ClipContext


@dataclass
class FramesClip:
    """What a metric reads of a clip, held in memory instead of in a prepared protocol."""

    id: str
    fps: float
    identity: np.ndarray
    annotations: dict
    audio: np.ndarray | None = None
    sample_rate: int = 16000
    fingerprint: str = "in-memory"
    identity_path: Path = Path("<identity image passed to update>")

    def load_identity(self) -> np.ndarray:
        return self.identity

    def load_annotations(self) -> dict:
        return self.annotations

    def load_audio(self) -> np.ndarray:
        if self.audio is None:
            raise ClipError("metric", "this metric needs the clip's audio: pass audio= to update()")
        return self.audio


def as_uint8_frames(frames) -> np.ndarray:
    """(T, H, W, 3) uint8, from numpy or torch, uint8 or float in [0, 1], channels last or first."""
    x = frames.detach().cpu().numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    if x.ndim != 4:
        raise ValueError(f"expected frames of shape (T, H, W, 3) or (T, 3, H, W), got {x.shape}")
    if x.shape[-1] != 3 and x.shape[1] == 3:
        x = x.transpose(0, 2, 3, 1)
    if x.dtype != np.uint8:
        if x.min() < 0 or x.max() > 1:
            raise ValueError("float frames must be in [0, 1] (uint8 frames are taken as they are)")
        x = np.round(x * 255.0).astype(np.uint8)
    return np.ascontiguousarray(x)


class ClipMetric(TorchMetric):
    """One harness metric (or variant) by name, with its states declared for torchmetrics."""

    full_state_update = False

    def __init__(self, name: str, settings: Settings | None = None, fps: float = 25.0, **kwargs):
        super().__init__(**kwargs)
        from metrics import declare_metric

        declared = declare_metric(name, settings if settings is not None else Settings.create())
        self.aggregation = declared.aggregation
        if self.aggregation.untracked:  # known from the declaration: nothing is built or loaded
            raise ValueError(f"{name} is {self.aggregation.untracked}")
        try:
            self._sums = {k: f"sum_{k}" for k in self.aggregation.tracked_sums()}
        except NotImplementedError:
            raise ValueError(
                f"{name}: its aggregation ({type(self.aggregation).__name__}) declares no running sums "
                "to track clip by clip, nor why not (`untracked`)"
            ) from None
        declared.check()
        self.harness = declared.build()
        self.fps = fps
        zero = torch.tensor(0.0, dtype=torch.float64)
        for state in ("clips", "clips_failed", *self._sums.values()):
            self.add_state(state, default=zero.clone(), dist_reduce_fx="sum")

    @property
    def higher_is_better(self) -> bool | None:
        """None for metrics whose best is the ground truth's value (blink rate, CPBD) rather than an extreme."""
        return {"higher": True, "lower": False}.get(self.harness.direction)

    @property
    def spec(self):
        """The harness's description of the number: variant, parameters, backend."""
        return self.harness.spec

    def update(self, preds, target, identity=None, phones=None, audio=None, sample_rate: int = 16000) -> None:
        """Score one clip: `preds` generated and `target` ground-truth frames ((T, H, W, 3) uint8 or
        float in [0, 1], or channels first); `identity` the identity image (default: target's first
        frame), `phones` [(phone, start s, end s), ...] for bilabial, `audio` mono float for lip sync."""
        generated, reference = as_uint8_frames(preds), as_uint8_frames(target)
        annotations = {}
        if phones is not None:
            annotations = {
                "phones": np.asarray([p for p, _, _ in phones], dtype="<U8"),
                "phone_start": np.asarray([s for _, s, _ in phones], dtype=np.float64),
                "phone_end": np.asarray([e for _, _, e in phones], dtype=np.float64),
            }
        clip = FramesClip(
            f"clip-{int(self.clips + self.clips_failed)}",
            self.fps,
            reference[0] if identity is None else as_uint8_frames(np.asarray(identity)[None])[0],
            annotations,
            None if audio is None else np.asarray(audio, dtype=np.float32),
            sample_rate,
        )
        ctx = ClipContext(clip, Video(generated, self.fps), reference, settings=self.harness.settings)
        try:
            result = self.harness.score_clip(ctx)
        except MetricNotApplicable as exc:  # nothing this metric could score on any clip given so: say why now
            raise ValueError(
                f"{self.harness.variant} cannot score this clip: {exc.message}"
                + ("; pass phones=[(phone, start_s, end_s), ...] to update()" if phones is None else "")
            ) from None
        except ClipError:
            self.clips_failed += 1
            return
        added = self.aggregation.clip_sums(result.value, result.pooled)
        if added is None:  # nothing to add (no value, no counts): counted, not raised
            self.clips_failed += 1
            return
        for key, state in self._sums.items():
            setattr(self, state, getattr(self, state) + added[key])
        self.clips += 1

    def compute(self) -> torch.Tensor:
        """The metric's value over the clips seen, by its declared aggregation (mean of clip values, or
        ratio of pooled sums); NaN if none."""
        if self.clips == 0:
            return torch.tensor(float("nan"), dtype=torch.float64)
        sums = {key: float(getattr(self, state)) for key, state in self._sums.items()}
        return torch.tensor(float(self.aggregation.value_of_sums(sums, int(self.clips))), dtype=torch.float64)
