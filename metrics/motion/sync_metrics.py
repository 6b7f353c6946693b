"""The weightless audio-visual offset (our definition, metrics/motion/sync.py) as registered metrics.

`av-offset`: the lag (frames, positive = video late) in ±15 at which the mouth openness best follows
the speech envelope (50 ms RMS every 10 ms, at frame centres) on VAD speech frames with a face; `av-offset-paired`:
the lag against the ground truth's openness instead of the audio (a ground truth delayed by k frames
gives k). `av-conf`: max − median of the correlogram (SyncNet's confidence, on our signals). Each
beside the ground truth's own; the correlograms and the VAD intervals are kept beside the run for its page.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from metrics.aggregation import Channels, Pooled
from metrics.base import ClipValue
from metrics.context import ClipContext
from metrics.motion import sync
from metrics.motion.base import NoValue, covered, finite, fps, speech
from metrics.motion.theval_metrics import VAD_DEFAULTS, VadMetric
from benchmark.perception.vad import speech_frame_mask

ENVELOPE = {"window_s": 0.05, "hop_s": 0.01}
SYNC_DEFAULTS: dict[str, Any] = {
    **VAD_DEFAULTS,
    "max_lag": sync.MAX_LAG,
    "detrend_s": sync.DETREND_S,
    "min_pairs_s": sync.MIN_PAIRS_S,
    "against": "audio",
    "frame_time": "centre",  # the envelope at frame centres, the instant a frame shows (frame starts read −½ frame)
}


def offset_of(ctx: ClipContext, which: str, params: dict) -> sync.Offset:
    """The side's offset against the audio, or (`against` ground-truth) against the ground truth's mouth."""
    backend = params["landmarks"]
    openness = ctx.feature("mouth-openness", which, backend=backend)
    lag = {k: params[k] for k in ("max_lag", "detrend_s", "min_pairs_s")}
    if params["against"] == "ground-truth":
        return sync.av_offset_paired(
            openness, ctx.feature("mouth-openness", "reference", backend=backend), fps(ctx), **lag
        )
    envelope = ctx.feature("speech-envelope", **ENVELOPE, frame_time=params["frame_time"])
    mask = speech_frame_mask(speech(ctx, params), fps(ctx), len(openness))
    return sync.av_offset(openness, envelope, mask, fps(ctx), **lag)


class AvSync(VadMetric):
    """Scores both sides' correlograms once; `pick` chooses offset or confidence."""

    default_params: ClassVar[dict[str, Any]] = dict(SYNC_DEFAULTS)
    features = ("landmarks", "mouth-openness", "audio", "speech", "speech-envelope")
    aggregation = Pooled(ratios={"value": ("sum", "clips"), "reference_value": ("reference_sum", "reference_clips")})
    channels = Channels(
        value=True,
        pooled=("clips", "reference_clips", "reference_sum", "sum"),
        artifacts=("correlogram", "reference_correlogram", "speech"),
    )

    @staticmethod
    def pick(offset: sync.Offset) -> float:
        raise NotImplementedError

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        values, extras, artifacts = {}, {}, {}
        lags = np.arange(-self.params["max_lag"], self.params["max_lag"] + 1)
        for which in ("generated", "reference"):
            prefix = "" if which == "generated" else "reference_"
            try:
                covered(ctx, which, self.params, self.variant)
                found = offset_of(ctx, which, self.params)
                artifacts[prefix + "correlogram"] = found.correlogram
                values[which] = finite(self.pick(found))
                if values[which] is None:
                    raise NoValue(
                        f"no lag has {self.params['min_pairs_s']:g} s of speech frames with a face and a moving mouth"
                    )
                extras[prefix + "offset"], extras[prefix + "confidence"] = found.offset, found.confidence
                extras[prefix + "corr0"] = finite(found.corr0)
                extras[prefix + "subframe_offset"] = finite(found.subframe)
            except NoValue as why:
                values[which] = None
                extras[prefix + "no_value"] = str(why)
                artifacts.setdefault(prefix + "correlogram", np.full(lags.size, np.nan))
        artifacts["speech"] = np.asarray(speech(ctx, self.params), dtype=np.float64).reshape(
            -1, 2
        )  # the page's VAD bands
        g, r = values["generated"], values["reference"]
        extras["reference_value"] = r
        pooled = {
            "sum": g or 0.0,
            "clips": int(g is not None),
            "reference_sum": r or 0.0,
            "reference_clips": int(r is not None),
        }
        return ClipValue(g, pooled=pooled, extras=extras, artifacts=artifacts)


class AvOffset(AvSync):
    name = "av-offset"
    unit = "frames"
    description = (
        "Weightless AV offset (ours): lag in ±15 frames maximising the correlation of mouth openness and "
        "the speech envelope on VAD speech frames; positive = video late; the ground truth's beside it"
    )
    variants = {"av-offset-paired": {"against": "ground-truth"}}  # against the ground truth's mouth: delay k gives k

    @staticmethod
    def pick(offset: sync.Offset) -> float:
        return offset.offset


class AvConf(AvSync):
    name = "av-conf"
    direction = "higher"
    unit = "correlation"
    description = "Confidence of av-offset: max − median of the correlogram over the ±15 lags (SyncNet's definition)"
    variants = {"av-conf-paired": {"against": "ground-truth"}}

    @staticmethod
    def pick(offset: sync.Offset) -> float:
        return offset.confidence
