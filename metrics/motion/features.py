"""Feature providers of the motion metrics (`ctx.feature(name, which, **params)`), computed once per clip.

- `head-pose`: per side, the head pose of the `landmarks` feature (never a second detection): from the
  face mesh's rigid points when the backend keeps them (mediapipe), else from the iBUG-68 rigid points;
  cheap (about 0.2 ms a frame), so it is kept in memory only, the landmarks under it are cached on disk.
- `speech`: the clip's speech intervals (seconds) from a VAD backend (`benchmark.perception.vad`), run
  once per clip on its audio and cached on disk beside the prepared protocol (the same for every model).
- `mouth-openness`: per side, the inner-lip gap over the outer-eye-corner distance.
- `speech-envelope`: the clip's RMS envelope on the video's frame times.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.perception.av_signals import mouth_openness, rms_envelope
from benchmark.perception.head_pose import HeadPose, head_pose_of
from benchmark.perception.vad import get_vad, vad_version
from metrics.context import ClipContext, FeatureProvider


class HeadPoseFeature(FeatureProvider):
    """HeadPose (yaw, pitch, roll in degrees; translation in inter-ocular distances) against our
    canonical rigid shapes (benchmark.perception.head_pose), NaN rows where the backend found no face."""

    name = "head-pose"

    def compute(self, ctx: ClipContext, which: str, backend: str) -> HeadPose:
        track = ctx.feature("landmarks", which, backend=backend)
        return head_pose_of(track)


class Speech(FeatureProvider):
    """[(start_s, end_s)] speech intervals of the clip's audio, from the VAD backend `vad`."""

    name = "speech"
    per_side = False

    def compute(self, ctx: ClipContext, which: None, vad: str) -> list[tuple[float, float]]:
        return get_vad(vad).speech_intervals(ctx.feature("audio"), ctx.clip.sample_rate)

    def reference_cache(self, ctx: ClipContext, vad: str) -> tuple[str, dict]:
        return "speech", {"vad": vad_version(vad)}

    def to_arrays(self, value) -> dict[str, np.ndarray]:
        return {"intervals": np.asarray(value, dtype=np.float64).reshape(-1, 2)}

    def from_arrays(self, arrays: dict[str, np.ndarray], **params: Any) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in arrays["intervals"]]


class MouthOpenness(FeatureProvider):
    """(T,) inner-lip gap over the outer-eye-corner distance; NaN where no face."""

    name = "mouth-openness"

    def compute(self, ctx: ClipContext, which: str, backend: str) -> np.ndarray:
        track = ctx.feature("landmarks", which, backend=backend)
        return np.where(track.found, mouth_openness(track.points), np.nan)


class SpeechEnvelope(FeatureProvider):
    """(T,) RMS of the clip's audio (`window_s` windows every `hop_s`) at the video's frame times (starts
    or centres, `frame_time`)."""

    name = "speech-envelope"
    per_side = False

    def compute(
        self, ctx: ClipContext, which: None, window_s: float, hop_s: float, frame_time: str = "start"
    ) -> np.ndarray:
        return rms_envelope(
            ctx.feature("audio"),
            ctx.clip.sample_rate,
            len(ctx.reference),
            ctx.generated.fps,
            window_s=window_s,
            hop_s=hop_s,
            frame_time=frame_time,
        )
