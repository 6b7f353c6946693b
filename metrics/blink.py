"""Blink rate and duration from the eye aspect ratio, pooled over the protocol.

Default `blink`: Vougioukas' offline detector — peaks of -dEAR/dt higher than 0.072, at least
4 frames apart (scipy find_peaks). Variant `blink-online`: EAR below 0.2 for 2+ frames.
Reported as blinks per second pooled over all clips (sum of blinks / sum of seconds: GRID
clips are 3 s, so per-clip averaging is wrong), with the ground truth's rate on the same clips.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import find_peaks

from benchmark.perception.face_geometry import eye_aspect_ratio, fill_missing
from benchmark.stats import PooledState
from metrics.base import ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric


def detect_blinks_offline(ear: np.ndarray, height: float, distance: int) -> np.ndarray:
    """Frame index of each blink: where EAR falls fastest (a peak of -dEAR)."""
    falling = -np.diff(ear)
    peaks, _ = find_peaks(falling, height=height, distance=distance)
    return peaks + 1


def detect_blinks_online(ear: np.ndarray, threshold: float, min_frames: int) -> np.ndarray:
    """Frame index of each run of >= min_frames frames with EAR below threshold (its first frame)."""
    closed = np.concatenate([[False], ear < threshold, [False]])
    edges = np.diff(closed.astype(int))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    return starts[(ends - starts) >= min_frames]


def blink_durations(ear: np.ndarray, blinks: np.ndarray) -> np.ndarray:
    """Frames each blink spends below half-way between its trough and the clip's open-eye EAR."""
    open_level = float(np.median(ear))
    out = []
    for b in blinks:
        window = slice(max(b - 2, 0), min(b + 6, ear.size))
        trough = window.start + int(np.argmin(ear[window]))
        half = (open_level + ear[trough]) / 2
        left = trough
        while left > 0 and ear[left - 1] < half:
            left -= 1
        right = trough
        while right + 1 < ear.size and ear[right + 1] < half:
            right += 1
        out.append(right - left + 1)
    return np.asarray(out, dtype=np.int64)


def match_events(detected: np.ndarray, planted_onsets: np.ndarray, span: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives): a detection matches an unmatched
    planted blink whose frames [onset - 1, onset + span] contain it."""
    unmatched = list(planted_onsets)
    tp = 0
    for d in detected:
        hit = next((o for o in unmatched if o - 1 <= d <= o + span), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    return tp, len(detected) - tp, len(unmatched)


class BlinkRate(LandmarkMetric):
    name = "blink"
    direction = "none"
    unit = "blinks/s"
    description = "Blinks per second pooled over clips (EAR; offline -dEAR peak detector), with the ground truth's rate"
    default_params = {**LANDMARK_DEFAULTS, "detector": "offline-dear-peaks", "peak_height": 0.072,
                      "peak_distance_frames": 4, "ear_threshold": 0.2, "min_closed_frames": 2}
    variants = {"blink-online": {"detector": "online-ear-threshold"}}

    def new_state(self) -> PooledState:
        return PooledState(
            ratios={"value": ("blinks", "seconds"), "reference_value": ("reference_blinks", "seconds"),
                    "mean_duration_s": ("blink_seconds", "blinks"),
                    "reference_mean_duration_s": ("reference_blink_seconds", "reference_blinks"),
                    "planted_precision": ("planted_tp", "planted_detected"),
                    "planted_recall": ("planted_tp", "planted_total")},
            primary="value")

    def _detect(self, ear: np.ndarray) -> np.ndarray:
        p = self.params
        if p["detector"] == "online-ear-threshold":
            return detect_blinks_online(ear, p["ear_threshold"], p["min_closed_frames"])
        return detect_blinks_offline(ear, p["peak_height"], p["peak_distance_frames"])

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        backend, fps = self.params["landmarks"], ctx.clip.fps
        pooled, extras, artifacts = {"seconds": ctx.generated.n_frames / fps}, {}, {}
        for which, prefix in (("generated", ""), ("reference", "reference_")):
            track = ctx.landmarks(which, backend)
            require_coverage(track.found, self.params["min_face_coverage"], f"{self.variant} ({which})")
            ear = fill_missing(eye_aspect_ratio(track.points), track.found)
            blinks = self._detect(ear)
            pooled[f"{prefix}blinks"] = len(blinks)
            pooled[f"{prefix}blink_seconds"] = float(blink_durations(ear, blinks).sum() / fps)
            extras[f"{prefix}blink_frames"] = blinks.tolist()
            artifacts[f"{prefix}ear"] = ear.astype(np.float32)  # EAR over time, plotted on the run page
            if which == "generated":
                generated_blinks = blinks
        planted = ctx.annotations().get("blink_onsets")
        if planted is not None:  # synthetic clips know where they blinked: validate the detector
            span = len(ctx.annotations().get("blink_profile", [0] * 5))
            tp, fp, fn = match_events(generated_blinks, planted, span)
            pooled.update(planted_tp=tp, planted_detected=tp + fp, planted_total=tp + fn)
        return ClipValue(pooled["blinks"] / pooled["seconds"], pooled=pooled, extras=extras, artifacts=artifacts)
