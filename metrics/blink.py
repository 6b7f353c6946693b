"""Blink rate and duration from the eye aspect ratio, pooled over the protocol.

Default `blink`: a per-clip, baseline-relative detector with hysteresis (`detect_blinks_relative`).
Fixed absolute thresholds tuned on one data set miss shallow blinks (EAR ~0.33 -> ~0.21 over
several frames): measured on independent clips, Vougioukas' detector found 2 of 16 and the online
one none. So depth is judged against the clip's own open-eye level, and the entry threshold rises
with the clip's landmark noise so that noisy clips do not invent blinks. Every parameter is in
`default_params`; `bench validate blink` measures recall and false blinks per minute on
synthesised EAR traces (metrics/blink_synthetic.py) for this and the variants below.

Variants: `blink-vougioukas` — Vougioukas' offline detector (DinoMan/blink-detector): peaks of
-dEAR/dt higher than 0.072, at least 4 frames apart (scipy find_peaks), the convention behind the
blink rates published by Vougioukas et al. and the MAN paper; `blink-online`: EAR below 0.2 for
2+ frames. Reported as blinks per second pooled over all clips (sum of blinks / sum of seconds:
GRID clips are 3 s, so per-clip averaging is wrong), with the ground truth's rate on the same clips.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import find_peaks

from benchmark.perception.face_geometry import eye_aspect_ratio, fill_missing
from metrics.aggregation import Pooled
from metrics.base import Channels, ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric

RELATIVE_DEFAULTS = {
    "detector": "baseline-relative-hysteresis",
    "smoothing": "mean",
    "smoothing_frames": 3,
    "baseline": "rolling-median-of-open-frames",
    "baseline_window_s": 2.0,
    "onset_drop": 0.12,
    "release_drop": 0.07,
    "noise_k": 2.5,
    "min_duration_frames": 2,
    "max_duration_s": 0.6,
}
VOUGIOUKAS = {"detector": "offline-dear-peaks", "peak_height": 0.072, "peak_distance_frames": 4}
ONLINE = {"detector": "online-ear-threshold", "ear_threshold": 0.2, "min_closed_frames": 2}
DETECTOR_PARAMS = {p["detector"]: p for p in (RELATIVE_DEFAULTS, VOUGIOUKAS, ONLINE)}


@dataclass(frozen=True)
class Blinks:
    """Detected blinks of one EAR trace: the frame marking each, and its duration in frames."""

    frames: np.ndarray  # int64, one per blink
    durations: np.ndarray  # int64 frames, same length


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


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def smooth_ear(ear: np.ndarray, method: str, frames: int) -> np.ndarray:
    """Light smoothing: a running median removes one-frame landmark glitches and keeps 2-frame blinks."""
    if frames <= 1:
        return ear.copy()
    if method == "median":
        return median_filter(ear, size=frames, mode="nearest")
    if method == "mean":
        padded = np.pad(ear, frames // 2, mode="edge")
        return np.convolve(padded, np.ones(frames) / frames, mode="valid")[: ear.size]
    if method == "median-then-mean":
        return smooth_ear(smooth_ear(ear, "median", frames), "mean", frames)
    raise ValueError(f"unknown smoothing {method!r}: median, mean or median-then-mean")


def _rolling_nanmedian(values: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(values, half, constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1)
    with warnings.catch_warnings():  # a window with no open frame gives NaN, filled by the caller
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(windows, axis=1)


def open_eye_baseline(ear: np.ndarray, window: int, release_drop: float) -> np.ndarray:
    """Per-frame open-eye EAR: a rolling median, recomputed without the frames the first pass
    finds closed (so long or frequent blinks do not pull it down), following slow drift."""
    first = _rolling_nanmedian(ear, window)
    open_frames = np.where(ear > first * (1 - release_drop), ear, np.nan)
    second = _rolling_nanmedian(open_frames, window)
    return np.where(np.isfinite(second), second, first)


def robust_noise(ear: np.ndarray) -> float:
    """Frame-to-frame noise (standard deviation) of an EAR trace from the MAD of its first differences;
    blinks are a minority of frames, so they barely move it."""
    if ear.size < 3:
        return 0.0
    diff = np.diff(ear)
    return float(1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2.0))


def detect_blinks_relative(
    ear: np.ndarray,
    fps: float,
    *,
    smoothing: str,
    smoothing_frames: int,
    baseline_window_s: float,
    onset_drop: float,
    release_drop: float,
    noise_k: float,
    min_duration_frames: int,
    max_duration_s: float,
    **_ignored,
) -> Blinks:
    """Blinks as dips below the clip's own open-eye level.

    relative drop d(t) = 1 - smoothed EAR / open-eye baseline. A blink is a run of frames with
    d >= `release_drop` whose deepest frame reaches the entry threshold max(`onset_drop`,
    `noise_k` x relative noise) (hysteresis: enter high, leave low), and whose full width at half
    its depth lasts `min_duration_frames` to `max_duration_s`. Marked at its deepest frame.
    """
    ear = np.asarray(ear, dtype=np.float64)
    if ear.size == 0:
        return Blinks(np.zeros(0, np.int64), np.zeros(0, np.int64))
    window = 2 * int(round(baseline_window_s * fps / 2)) + 1
    smooth = smooth_ear(ear, smoothing, smoothing_frames)
    baseline = open_eye_baseline(smooth, window, release_drop)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(baseline > 0, 1.0 - smooth / baseline, 0.0)
        raw_drop = np.where(baseline > 0, 1.0 - ear / baseline, 0.0)
    level = float(np.median(baseline))
    entry = max(onset_drop, noise_k * robust_noise(ear) / level if level > 0 else onset_drop)
    max_frames = max_duration_s * fps
    frames, durations = [], []
    for start, end in _runs(drop >= release_drop):
        segment = drop[start:end]
        peak = float(segment.max())
        if peak < entry:
            continue
        width = int((segment >= peak / 2).sum())
        # a one-frame landmark glitch spreads over `smoothing_frames` once smoothed: count the raw frames too
        raw_frames = int((raw_drop[start:end] >= release_drop).sum())
        if raw_frames >= min_duration_frames and width <= max_frames:
            frames.append(start + int(np.argmax(segment)))
            durations.append(width)
    return Blinks(np.asarray(frames, dtype=np.int64), np.asarray(durations, dtype=np.int64))


def detect_blinks(ear: np.ndarray, fps: float, params: dict) -> Blinks:
    """The blinks of one EAR trace under a variant's parameters (what the metric and the validation both call)."""
    detector = params["detector"]
    if detector == "baseline-relative-hysteresis":
        return detect_blinks_relative(ear, fps, **{k: v for k, v in params.items() if k != "detector"})
    if detector == "online-ear-threshold":
        frames = detect_blinks_online(ear, params["ear_threshold"], params["min_closed_frames"])
    elif detector == "offline-dear-peaks":
        frames = detect_blinks_offline(ear, params["peak_height"], params["peak_distance_frames"])
    else:
        raise ValueError(f"unknown blink detector {detector!r}")
    return Blinks(frames.astype(np.int64), blink_durations(ear, frames))


def match_events(detected: np.ndarray, planted_onsets: np.ndarray, span: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives): a detection matches an unmatched
    planted blink whose frames [onset - 1, onset + span] contain it."""
    onsets = np.asarray(planted_onsets)
    return match_intervals(detected, onsets - 1, onsets + span, 0)


def match_intervals(detected: np.ndarray, starts: np.ndarray, ends: np.ndarray, tolerance: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives): each detection, in order, matches the first
    unmatched true blink whose frames [start - tolerance, end + tolerance] contain it."""
    unmatched = list(zip(np.asarray(starts).tolist(), np.asarray(ends).tolist()))
    tp = 0
    for d in np.asarray(detected).tolist():
        hit = next((iv for iv in unmatched if iv[0] - tolerance <= d <= iv[1] + tolerance), None)
        if hit is not None:
            unmatched.remove(hit)
            tp += 1
    return tp, len(detected) - tp, len(unmatched)


class BlinkRate(LandmarkMetric):
    name = "blink"
    direction = "closest-to-ground-truth"  # the ground truth's rate, recorded beside the value (reference_value)
    unit = "blinks/s"
    description = (
        "Blinks per second pooled over clips (EAR; dips below the clip's open-eye level, with hysteresis), "
        "with the ground truth's rate"
    )
    default_params = {**LANDMARK_DEFAULTS, **RELATIVE_DEFAULTS}
    variants = {"blink-vougioukas": VOUGIOUKAS, "blink-online": ONLINE}
    aggregation = Pooled(
        ratios={
            "value": ("blinks", "seconds"),
            "reference_value": ("reference_blinks", "seconds"),
            "mean_duration_s": ("blink_seconds", "blinks"),
            "reference_mean_duration_s": ("reference_blink_seconds", "reference_blinks"),
            "planted_precision": ("planted_tp", "planted_detected"),
            "planted_recall": ("planted_tp", "planted_total"),
        },
        primary="value",
    )
    # planted_* only on synthetic clips that know where they blinked
    channels = Channels(value=True, pooled=aggregation.counts(), artifacts=("ear", "reference_ear"))

    @classmethod
    def params_for(cls, variant, settings, overrides):
        """A variant records its own detector's parameters, not those of the detectors it does not use."""
        params = super().params_for(variant, settings, overrides)
        own = DETECTOR_PARAMS[params["detector"]]
        foreign = {k for p in DETECTOR_PARAMS.values() for k in p} - own.keys() - overrides.keys()
        return {**own, **{k: v for k, v in params.items() if k not in foreign}}

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        backend, fps = self.params["landmarks"], ctx.clip.fps
        pooled, extras, artifacts = {"seconds": ctx.generated.n_frames / fps}, {}, {}
        for which, prefix in (("generated", ""), ("reference", "reference_")):
            track = ctx.feature("landmarks", which, backend=backend)
            require_coverage(track.found, self.params["min_face_coverage"], f"{self.variant} ({which})")
            ear = fill_missing(eye_aspect_ratio(track.points), track.found)
            blinks = detect_blinks(ear, fps, self.params)
            pooled[f"{prefix}blinks"] = len(blinks.frames)
            pooled[f"{prefix}blink_seconds"] = float(blinks.durations.sum() / fps)
            extras[f"{prefix}blink_frames"] = blinks.frames.tolist()
            artifacts[f"{prefix}ear"] = ear.astype(np.float32)  # EAR over time, plotted on the run page
            if which == "generated":
                generated_blinks = blinks.frames
        planted = ctx.feature("phones").get("blink_onsets")
        if planted is not None:  # synthetic clips know where they blinked: validate the detector
            span = len(ctx.feature("phones").get("blink_profile", [0] * 5))
            tp, fp, fn = match_events(generated_blinks, planted, span)
            pooled.update(planted_tp=tp, planted_detected=tp + fp, planted_total=tp + fn)
        return ClipValue(pooled["blinks"] / pooled["seconds"], pooled=pooled, extras=extras, artifacts=artifacts)
