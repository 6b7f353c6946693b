"""THEval's five offline metrics as registered metrics, each beside the ground truth's value, and the
THEval composite over them (a set-level score: the means of the five on the generated videos and on
the ground truth, then 1 − |m − GT| / GT per metric, unclipped, averaged; the ground truth scores 1).

The math is metrics/motion/theval.py; the signals come from the shared features (iBUG-68 `landmarks`,
`head-pose`, `speech`, `audio`). Point sets are THEval's roles in iBUG-68 (`IBUG68`), differences never
span a frame without a face in our variants, and head-motion dynamics uses our landmark pose and a
translation in inter-ocular distances instead of FaceXFormer and a box centre in pixels: its numbers
are not comparable with THEval's table (hence the name `head-motion-dynamics-lm`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from benchmark.perception.av_signals import rms_envelope
from benchmark.perception.vad import speech_frame_mask
from benchmark.core.stats import PooledState
from metrics.aggregation import Channels, Pooled
from metrics.base import ClipValue
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS
from metrics.motion import theval
from metrics.motion.base import NoValue, SideMetric, check_vad, covered, finite, fps, frame_size, pose, speech, track

VAD_DEFAULTS: dict[str, Any] = {**LANDMARK_DEFAULTS, "vad": "silero"}
P = theval.IBUG68


def lip_dynamics(ctx: ClipContext, which: str, params: dict) -> tuple[float, dict]:
    t = track(ctx, which, params)
    lips = theval.to_theval_square(t.points[:, list(P["lips"])], frame_size(ctx, which))
    return theval.lip_dynamics(lips, t.found), {}


def eyebrow_dynamics(ctx: ClipContext, which: str, params: dict) -> tuple[float, dict]:
    t = track(ctx, which, params)
    parts = [t.points[:, list(P[k])] for k in ("brow_left", "brow_right", "eye_left", "eye_right")]
    return theval.eyebrow_dynamics(*parts, found=t.found, bridge_gaps=params["bridge_gaps"]), {}


def head_motion_dynamics_lm(ctx: ClipContext, which: str, params: dict) -> tuple[float, dict]:
    p = pose(ctx, which, params)
    return theval.head_motion_dynamics(
        p.angles, p.translation, track(ctx, which, params).found, bridge_gaps=params["bridge_gaps"]
    ), {}


def silent_lip_stability(ctx: ClipContext, which: str, params: dict) -> tuple[float, dict]:
    t = track(ctx, which, params)
    silent = theval.silent_frames(speech(ctx, params), fps(ctx), len(t.found))
    if silent.sum() < 2:
        raise NoValue(f"no silence of at least {theval.MIN_SILENCE_S} s (THEval drops such videos)")
    openness = theval.silent_openness(theval.to_theval_square(t.points, frame_size(ctx, which)))
    return theval.silent_lip_stability(np.where(t.found, openness, np.nan), silent), {
        "silent_frames": int(silent.sum())
    }


def lip_sync(ctx: ClipContext, which: str, params: dict) -> tuple[float, dict]:
    t = track(ctx, which, params)
    n = len(t.found)
    mask = speech_frame_mask(speech(ctx, params), fps(ctx), n)
    if n == 0 or mask.mean() < 0.1:
        raise NoValue(f"speech on {mask.mean() if n else 0:.0%} of the frames, under THEval's 10 %")
    volume = rms_envelope(ctx.feature("audio"), ctx.clip.sample_rate, n, fps(ctx))  # THEval: 50 ms frames and hops
    openness = np.where(t.found, theval.lip_sync_openness(t.points, frame_size(ctx, which)), np.nan)
    return theval.lip_sync(openness, volume, mask), {"speech_frames": int(mask.sum())}


class LipDynamics(SideMetric):
    name = "lip-dynamics"
    unit = "px (256² frame)"
    description = (
        "THEval lip dynamics (Std_Over_Time): mean over the 190 pairwise iBUG-68 lip-point distances of "
        "their std over time, in a 256×256 frame, first 500 frames; closest to the ground truth's is best"
    )

    def side_value(self, ctx, which):
        return lip_dynamics(ctx, which, self.params)


class EyebrowDynamics(SideMetric):
    name = "eyebrow-dynamics"
    unit = "eye-distance/frame"
    description = (
        "THEval eyebrow dynamics (micro-expression intensity): mean |Δ| of the brow-to-eye centroid "
        "height over the eye-centroid distance, per frame; differences never span a face gap"
    )
    default_params: ClassVar[dict[str, Any]] = {**LANDMARK_DEFAULTS, "bridge_gaps": False}
    variants = {"eyebrow-dynamics-theval-gaps": {"bridge_gaps": True}}  # THEval's loop: differences across gaps

    def side_value(self, ctx, which):
        return eyebrow_dynamics(ctx, which, self.params)


class HeadMotionDynamicsLm(SideMetric):
    name = "head-motion-dynamics-lm"
    unit = "deg·(deg/frame), IOD"
    description = (
        "THEval head-motion dynamics on OUR landmark pose (not FaceXFormer) with the translation in "
        "inter-ocular distances (not box pixels): not comparable with THEval's table"
    )
    default_params: ClassVar[dict[str, Any]] = {**LANDMARK_DEFAULTS, "bridge_gaps": False}
    features = ("landmarks", "head-pose")

    def side_value(self, ctx, which):
        return head_motion_dynamics_lm(ctx, which, self.params)


class VadMetric(SideMetric):
    default_params: ClassVar[dict[str, Any]] = dict(VAD_DEFAULTS)
    features = ("landmarks", "audio", "speech")

    @classmethod
    def check(cls, settings, params) -> None:
        check_vad(params["vad"])

    @classmethod
    def backend_for(cls, settings, params) -> str:
        from benchmark.perception.vad import vad_version

        return f"{super().backend_for(settings, params)}; vad {vad_version(params['vad'])}"


class SilentLipStability(VadMetric):
    name = "silent-lip-stability"
    unit = "eye-distance"
    description = (
        "THEval silent-lip stability (silent MAD): median |o − mean o| of the inner-lip gap over the eye "
        "distance on VAD silences of at least 0.3 s; clips without one have no value"
    )

    def side_value(self, ctx, which):
        return silent_lip_stability(ctx, which, self.params)


class LipSyncTheval(VadMetric):
    name = "lip-sync-theval"
    unit = "min-max units"
    description = (
        "THEval lip sync (Mean_Difference): mean |ô − v̂| of min-max normalised mouth openness and 50 ms "
        "RMS on VAD speech frames, no lag search; under 10 % speech has no value"
    )

    def side_value(self, ctx, which):
        return lip_sync(ctx, which, self.params)


# ---- the composite ----------------------------------------------------------------------------------------

FIVE = {
    "lip-dynamics": lip_dynamics,
    "head-motion-dynamics-lm": head_motion_dynamics_lm,
    "eyebrow-dynamics": eyebrow_dynamics,
    "silent-lip-stability": silent_lip_stability,
    "lip-sync-theval": lip_sync,
}
GROUPS = {
    "naturalness": ("lip-dynamics", "head-motion-dynamics-lm", "eyebrow-dynamics"),
    "synchronization": ("silent-lip-stability", "lip-sync-theval"),
}


def _key(metric: str, which: str, what: str) -> str:
    return f"{metric.replace('-', '_')}{'_reference' if which == 'reference' else ''}_{what}"


class GroundTruthNormalisedState(PooledState):
    """Per-metric sums of both sides; the score names in `means` are means of 1 − |m − GT| / |GT| over
    their metrics, each m and GT a mean over the clips that have a value (NaN if any is undefined or a
    GT is 0, as THEval refuses a zero GT)."""

    @property
    def aggregation(self) -> str:
        return (
            "THEval score: 1 - |m - GT| / GT per metric, m and GT means over clips (pooled sums), "
            "unclipped, equal weights"
        )

    def merge(self, other: "GroundTruthNormalisedState") -> "GroundTruthNormalisedState":
        return GroundTruthNormalisedState(self.ratios, self.primary, self.counts + other.counts, self.means)

    def primary_keys(self) -> list[str]:
        return sorted({k for pair in self.ratios.values() for k in pair})

    def evaluate(self, sums: dict, name: str | None = None):
        name = name or self.primary
        if name not in self.means:
            return super().evaluate(sums, name)
        scores = []
        for metric in self.means[name]:
            m, gt = super().evaluate(sums, metric), super().evaluate(sums, f"{metric} (ground truth)")
            with np.errstate(divide="ignore", invalid="ignore"):
                scores.append(np.where(np.abs(gt) > 1e-9, 1.0 - np.abs(m - gt) / np.abs(gt), np.nan))
        return sum(scores) / len(scores)


class GroundTruthNormalised(Pooled):
    """THEval's GT-normalised score as a declared aggregation: a function of pooled sums, so shards
    merge and ClipMetric tracks it like any pooled ratio."""

    def new_state(self) -> GroundTruthNormalisedState:
        return GroundTruthNormalisedState(dict(self.ratios), self.primary, means=dict(self.means))


def _composite_aggregation() -> GroundTruthNormalised:
    ratios = {}
    for metric in FIVE:
        ratios[metric] = (_key(metric, "generated", "sum"), _key(metric, "generated", "clips"))
        ratios[f"{metric} (ground truth)"] = (_key(metric, "reference", "sum"), _key(metric, "reference", "clips"))
    means = {"value": tuple(FIVE), **GROUPS, **{f"{metric} score": (metric,) for metric in FIVE}}
    return GroundTruthNormalised(ratios=ratios, primary="value", means=means)


class TheValScore(VadMetric):
    name = "theval-score"
    direction = "higher"
    unit = "1 = ground truth"
    description = (
        "THEval composite over lip-dynamics, head-motion-dynamics-lm, eyebrow-dynamics, silent-lip-stability "
        "and lip-sync-theval: per metric 1 - |mean - GT mean| / GT mean (unclipped, may be negative), equal "
        "weights; the ground truth scores exactly 1"
    )
    default_params: ClassVar[dict[str, Any]] = {**VAD_DEFAULTS, "bridge_gaps": False}
    features = ("landmarks", "head-pose", "audio", "speech")
    aggregation = _composite_aggregation()
    channels = Channels(value=False, pooled=aggregation.counts())

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        pooled, extras = {}, {}
        for which in ("generated", "reference"):
            try:
                covered(ctx, which, self.params, self.variant)
                usable = True
            except NoValue as why:
                usable, extras[f"{which}_no_value"] = False, str(why)
            for metric, side in FIVE.items():
                value = None
                if usable:
                    try:
                        value = finite(side(ctx, which, self.params)[0])
                    except NoValue:
                        value = None
                pooled[_key(metric, which, "sum")] = value or 0.0
                pooled[_key(metric, which, "clips")] = int(value is not None)
        return ClipValue(None, pooled=pooled, extras=extras)
