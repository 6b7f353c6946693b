"""What the motion metrics share: each scores the generated video and the ground truth the same way,
so every number carries the ground truth's value beside it (THEval's "GT" row, computed by the
harness on the protocol's own ground truth).

A clip adds, per side, its value and a count of 1 when the value is defined (THEval's NaN, e.g. no
silence of 0.3 s or under 10 % speech, adds 0 and 0): the results are means over the clips that have
a value, THEval's nanmean over videos, for the generated videos ("value") and for the ground truth
("reference_value") alike. A clip whose generated side has no value is still "ok" (its ground truth
may have one); the reason is in its extras under "no_value".
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from benchmark.perception.head_pose import HeadPose
from benchmark.perception.vad import VAD_BACKENDS
from metrics.aggregation import Channels, Pooled
from metrics.base import ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric

SIDES = ("generated", "reference")
GT_BESIDE = Pooled(ratios={"value": ("sum", "clips"), "reference_value": ("reference_sum", "reference_clips")})
GT_BESIDE_CHANNELS = Channels(value=True, pooled=("clips", "reference_clips", "reference_sum", "sum"))


class NoValue(Exception):
    """This side of the clip has no value under the metric's definition (THEval's NaN), and why."""


def frame_size(ctx: ClipContext, which: str) -> tuple[int, int]:
    """(W, H) of the side's frames."""
    frames = ctx.generated.frames if which == "generated" else ctx.reference
    return int(frames.shape[2]), int(frames.shape[1])


def fps(ctx: ClipContext) -> float:
    return float(ctx.generated.fps)


def track(ctx: ClipContext, which: str, params: dict):
    return ctx.feature("landmarks", which, backend=params["landmarks"])


def pose(ctx: ClipContext, which: str, params: dict) -> HeadPose:
    return ctx.feature("head-pose", which, backend=params["landmarks"])


def speech(ctx: ClipContext, params: dict) -> list[tuple[float, float]]:
    return ctx.feature("speech", vad=params["vad"])


def finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def covered(ctx: ClipContext, which: str, params: dict, what: str) -> None:
    """The generated side below the face coverage threshold fails the clip (as every landmark metric
    does); the ground truth's then has no value (NoValue), the generated one is still scored."""
    found = track(ctx, which, params).found
    if which == "generated":
        require_coverage(found, params["min_face_coverage"], what)
        return
    coverage = float(found.mean()) if found.size else 0.0
    if coverage < params["min_face_coverage"]:
        raise NoValue(f"the ground truth has a face in only {coverage:.0%} of its frames")


class SideMetric(LandmarkMetric):
    """A motion metric computed on each side alone (`side_value`), reported with the ground truth's."""

    direction = "closest-to-ground-truth"
    default_params: ClassVar[dict[str, Any]] = dict(LANDMARK_DEFAULTS)
    aggregation = GT_BESIDE
    channels = GT_BESIDE_CHANNELS

    def side_value(self, ctx: ClipContext, which: str) -> tuple[float, dict]:
        """(value, extras) of one side; raise NoValue when it has none."""
        raise NotImplementedError

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        values, extras = {}, {}
        for which in SIDES:
            prefix = "" if which == "generated" else "reference_"
            try:
                covered(ctx, which, self.params, self.variant)
                value, more = self.side_value(ctx, which)
                values[which] = finite(value)
                if values[which] is None:
                    raise NoValue("not defined on this clip")
                extras.update({prefix + k: v for k, v in more.items()})
            except NoValue as why:
                values[which] = None
                extras[prefix + "no_value"] = str(why)
        extras["reference_value"] = values["reference"]
        g, r = values["generated"], values["reference"]
        pooled = {
            "sum": g or 0.0,
            "clips": int(g is not None),
            "reference_sum": r or 0.0,
            "reference_clips": int(r is not None),
        }
        return ClipValue(g, pooled=pooled, extras=extras)


def check_vad(name: str) -> None:
    from benchmark.core.errors import BenchError

    if name not in VAD_BACKENDS:
        raise BenchError(f"unknown voice activity detector {name!r}", hint=f"known: {', '.join(VAD_BACKENDS)}")


def as_list(x: np.ndarray) -> list:
    return [finite(float(v)) for v in np.asarray(x, dtype=np.float64).ravel()]
