"""Weightless audio-visual offset: the lag at which mouth openness best follows the speech envelope.

Our definition (no published metric computes it; it mirrors SyncNet's offset and confidence, vshift 15):
both signals lose their slow trend (a 1 s centred moving mean, over frames where each is valid), then
r(k) = Pearson(o_t, e_{t−k}) over frames t where the face was found and both t and t − k are speech
(VAD), for k = −K … K (K = 15 frames). Offset = argmax_k r(k) in frames, positive when the video is late
(the mouth moves k frames after the sound); confidence = max r − median_k r(k); r(0) is reported too, and
the peak refined below a frame by a parabola through its neighbours (`subframe`): a whole-frame offset
rounds a lag, so a mouth 0.6 frame late reads 1.

The paired version correlates the generated openness with the ground truth's, o_t vs o^GT_{t−k}, on
frames where both have a face: a ground-truth video delayed by k frames gives exactly k.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from metrics.motion.frames import valid_frames

MAX_LAG = 15
DETREND_S = 1.0  # a 1 s moving mean: a ~1 Hz high-pass below the 2-7 Hz band where mouth and envelope co-vary
MIN_PAIRS_S = 1.0  # a lag needs this much overlap (seconds of frames) to get a correlation


@dataclass
class Offset:
    offset: float  # frames, positive = video late; NaN when no lag had enough frames
    confidence: float  # max r − median r over lags
    corr0: float  # r at lag 0
    lags: np.ndarray  # (2K+1,) −K … K
    correlogram: np.ndarray  # (2K+1,) r(k), NaN where too few frames
    subframe: float = float("nan")  # the peak refined by a parabola through r(best − 1), r(best), r(best + 1)


def detrend(x: np.ndarray, valid: np.ndarray, window_frames: int) -> np.ndarray:
    """x minus its centred moving mean over `window_frames` (valid frames only); NaN where not valid."""
    x = np.asarray(x, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if window_frames <= 1:
        return np.where(valid, x, np.nan)
    kernel = np.ones(min(int(window_frames), max(len(x), 1)))  # np.convolve "same" is as long as the longer input
    filled = np.where(valid, x, 0.0)
    total = np.convolve(filled, kernel, mode="same")
    count = np.convolve(valid.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(valid & (count > 0), x - total / np.maximum(count, 1), np.nan)


def correlogram(
    x: np.ndarray, y: np.ndarray, valid_x: np.ndarray, valid_y: np.ndarray, max_lag: int, min_pairs: int
) -> tuple[np.ndarray, np.ndarray]:
    """r(k) = Pearson(x_t, y_{t−k}) over t with valid_x[t] and valid_y[t−k], k = −max_lag … max_lag."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = len(x)
    lags = np.arange(-max_lag, max_lag + 1)
    r = np.full(lags.size, np.nan)
    for i, k in enumerate(lags):
        t = np.arange(max(k, 0), min(n, n + k))
        if t.size == 0:
            continue
        keep = valid_x[t] & valid_y[t - k]
        if keep.sum() < max(min_pairs, 3):
            continue
        a, b = x[t[keep]], y[t[keep] - k]
        a, b = a - a.mean(), b - b.mean()
        if a.std() < 1e-9 or b.std() < 1e-9:  # a constant mouth (a still image) has no correlation, not a tiny one
            continue
        r[i] = (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())
    return lags, r


def _summarise(lags: np.ndarray, r: np.ndarray) -> Offset:
    if not np.isfinite(r).any():
        return Offset(float("nan"), float("nan"), float("nan"), lags, r)
    best = int(np.nanargmax(r))
    subframe = float("nan")
    if 0 < best < len(r) - 1 and np.isfinite(r[best - 1 : best + 2]).all():
        a, b, c = r[best - 1 : best + 2]
        curvature = a - 2 * b + c
        subframe = float(lags[best] + (0.5 * (a - c) / curvature if curvature < 0 else 0.0))
    return Offset(float(lags[best]), float(np.nanmax(r) - np.nanmedian(r)), float(r[lags == 0][0]), lags, r, subframe)


def av_offset(
    openness: np.ndarray,
    envelope: np.ndarray,
    speech: np.ndarray,
    fps: float,
    found: np.ndarray | None = None,
    max_lag: int = MAX_LAG,
    detrend_s: float = DETREND_S,
    min_pairs_s: float = MIN_PAIRS_S,
) -> Offset:
    """Openness (T,) against the speech envelope (T,) on the video's frames; `speech` (T,) VAD frames."""
    speech = np.asarray(speech, dtype=bool)
    face = valid_frames(openness, found=found)
    window = int(round(detrend_s * fps))
    o = detrend(openness, face, window)
    e = detrend(envelope, valid_frames(envelope), window)
    lags, r = correlogram(
        o, e, face & speech & np.isfinite(o), speech & np.isfinite(e), max_lag, int(round(min_pairs_s * fps))
    )
    return _summarise(lags, r)


def av_offset_paired(
    openness: np.ndarray,
    reference_openness: np.ndarray,
    fps: float,
    found: np.ndarray | None = None,
    reference_found: np.ndarray | None = None,
    max_lag: int = MAX_LAG,
    detrend_s: float = DETREND_S,
    min_pairs_s: float = MIN_PAIRS_S,
) -> Offset:
    """Generated openness against the ground truth's: positive = the generated mouth is late."""
    a = valid_frames(openness, found=found)
    b = valid_frames(reference_openness, found=reference_found)
    window = int(round(detrend_s * fps))
    x, y = detrend(openness, a, window), detrend(reference_openness, b, window)
    lags, r = correlogram(x, y, a & np.isfinite(x), b & np.isfinite(y), max_lag, int(round(min_pairs_s * fps)))
    return _summarise(lags, r)
