"""Head motion: pose diversity, beat alignment (Bailando's formula in seconds), pose L1 and Fréchet distance.

Pose comes from benchmark.perception.head_pose (landmark pose: not comparable with numbers from Hopenet,
FaceXFormer or a 3DMM fit). Conventions, each ours where no code was published:
- diversity: std over frames with a face of yaw, pitch and roll (degrees), and their mean (SadTalker's
  "Diversity" used Hopenet embeddings and was never released; higher = more motion, not better);
- beat alignment: Bailando's BA = mean over audio beats b of exp(−min_m (m − b)² / 2σ²), in seconds with
  σ = 0.05 s (Bailando's 3 frames at 60 fps); motion beats = strict local minima of the smoothed head
  speed (σ = 5/60 s, Bailando's 5 frames at 60 fps), speed taken inside runs of faces only; audio beats =
  speech onsets (peaks of the log-spectral flux) since speech has no tempo for a beat tracker. Reported
  beside a shuffled-audio baseline (the audio beats' intervals permuted), because jittery motion with
  many minima scores high;
- pose L1: mean |Δ| over paired frames with a face in both, per angle then averaged (degrees), as ViCo's
  PoseL1 on our pose; pose FD: Fréchet distance between Gaussians fitted to two sets of per-frame poses.
"""

from __future__ import annotations

import numpy as np

from metrics.motion.frames import runs, valid_frames

BEAT_SIGMA_S = 0.05
SPEED_SMOOTH_S = 5 / 60
ONSET_MIN_GAP_S = 0.1


def pose_diversity(angles: np.ndarray, found: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(mean over axes, per-axis std) of yaw/pitch/roll over frames with a face (np.std, ddof 0)."""
    a = np.asarray(angles, dtype=np.float64)
    ok = valid_frames(a, found=found)
    if not ok.any():
        return float("nan"), np.full(a.shape[1], np.nan)
    per_axis = np.std(a[ok], axis=0)
    return float(per_axis.mean()), per_axis


def motion_beats(
    angles: np.ndarray, fps: float, found: np.ndarray | None = None, smooth_s: float = SPEED_SMOOTH_S
) -> np.ndarray:
    """Times (s) of the strict local minima of the head's angular speed, run by run (never across a gap).

    Speed v_t = |a_{t+1} − a_t| (degrees per frame), Gaussian-smoothed (σ = smooth_s · fps frames, reflect,
    truncate 4, as Bailando's scipy.ndimage.gaussian_filter); a minimum at index t is a beat at (t + ½) / fps
    (Bailando counts it at frame t; half a frame is 8 ms at its 60 fps but 20 ms at 25 fps)."""
    from scipy.ndimage import gaussian_filter1d
    from scipy.signal import argrelextrema

    a = np.asarray(angles, dtype=np.float64)
    ok = valid_frames(a, found=found)
    beats = []
    for start, stop in runs(ok):
        if stop - start < 3:
            continue
        v = np.linalg.norm(np.diff(a[start:stop], axis=0), axis=1)
        v = gaussian_filter1d(v, smooth_s * fps, mode="reflect", truncate=4.0)
        beats += (start + argrelextrema(v, np.less)[0]).tolist()
    # v_t is the speed between frames t and t + 1 (frame t shown at t / fps): it belongs to (t + ½) / fps
    return (np.asarray(beats, dtype=np.float64) + 0.5) / fps


def speech_onsets(
    audio: np.ndarray,
    rate: int,
    min_gap_s: float = ONSET_MIN_GAP_S,
    window_s: float = 0.032,
    hop_s: float = 0.01,
    threshold: float = 0.5,
) -> np.ndarray:
    """Speech onset times (s): peaks of the half-wave-rectified log-magnitude spectral flux (Hann window
    `window_s`, hop `hop_s`) above mean + threshold · std, at least `min_gap_s` apart (the stronger kept)."""
    y = np.asarray(audio, dtype=np.float64)
    n_fft, hop = max(int(window_s * rate), 2), max(int(hop_s * rate), 1)
    if y.size < n_fft:
        return np.zeros(0)
    idx = np.arange(n_fft)[None, :] + hop * np.arange(1 + (y.size - n_fft) // hop)[:, None]
    mag = np.abs(np.fft.rfft(y[idx] * np.hanning(n_fft), axis=1))
    logmag = np.log1p(100.0 * mag)
    flux = np.concatenate([[0.0], np.maximum(np.diff(logmag, axis=0), 0).sum(axis=1)])
    if not np.any(flux > 0):
        return np.zeros(0)
    level = flux.mean() + threshold * flux.std()
    peaks = [i for i in range(1, flux.size - 1) if flux[i] > level and flux[i] >= flux[i - 1] and flux[i] > flux[i + 1]]
    kept: list[int] = []
    for i in sorted(peaks, key=lambda i: -flux[i]):
        if all(abs(i - j) * hop / rate >= min_gap_s for j in kept):
            kept.append(i)
    # frame i's window starts at i·hop: time its centre
    return np.sort(np.asarray(kept, dtype=np.float64)) * hop / rate + n_fft / 2 / rate


def beat_align(audio_beats: np.ndarray, motion_beats: np.ndarray, sigma_s: float = BEAT_SIGMA_S) -> float:
    """Bailando's BA in seconds: mean over audio beats of exp(−(nearest motion beat − b)² / 2σ²);
    0 with no motion beat, NaN with no audio beat."""
    b = np.asarray(audio_beats, dtype=np.float64)
    m = np.asarray(motion_beats, dtype=np.float64)
    if b.size == 0:
        return float("nan")
    if m.size == 0:
        return 0.0
    nearest = np.min((b[:, None] - m[None, :]) ** 2, axis=1)
    return float(np.mean(np.exp(-nearest / (2 * sigma_s**2))))


def beat_align_shuffled(
    audio_beats: np.ndarray,
    motion_beats: np.ndarray,
    duration_s: float,
    draws: int = 100,
    seed: int = 0,
    sigma_s: float = BEAT_SIGMA_S,
) -> float:
    """The chance level of `beat_align`: the audio beats' inter-beat intervals (the lead-in and tail
    gaps too) randomly permuted `draws` times (seeded), BA averaged."""
    b = np.sort(np.asarray(audio_beats, dtype=np.float64))
    if b.size == 0:
        return float("nan")
    gaps = np.diff(np.concatenate([[0.0], b, [max(duration_s, b[-1])]]))
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(draws):
        shuffled = np.cumsum(rng.permutation(gaps))[: b.size]
        scores.append(beat_align(shuffled, motion_beats, sigma_s))
    return float(np.mean(scores))


def pose_l1(
    pose: np.ndarray, reference: np.ndarray, found: np.ndarray | None = None, reference_found: np.ndarray | None = None
) -> float:
    """Mean |pose − reference| over frames valid in both and over dimensions (paired; same frame count)."""
    p, r = np.asarray(pose, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    n = min(len(p), len(r))
    p, r = p[:n], r[:n]
    ok = valid_frames(p, found=None if found is None else np.asarray(found)[:n]) & valid_frames(
        r, found=None if reference_found is None else np.asarray(reference_found)[:n]
    )
    return float(np.mean(np.abs(p[ok] - r[ok]))) if ok.any() else float("nan")


def frechet_distance(x: np.ndarray, y: np.ndarray) -> float:
    """‖μx − μy‖² + Tr(Σx + Σy − 2 (Σx Σy)^½) between Gaussians fitted to rows of x and y (rows with a NaN
    dropped; covariance with ddof 1, as FID). NaN with fewer than 2 rows on either side."""
    from scipy.linalg import sqrtm

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x, y = x[np.isfinite(x).all(axis=1)], y[np.isfinite(y).all(axis=1)]
    if len(x) < 2 or len(y) < 2:
        return float("nan")
    mx, my = x.mean(0), y.mean(0)
    cx, cy = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    root = sqrtm(cx @ cy)
    if np.iscomplexobj(root):
        root = root.real
    return float(((mx - my) ** 2).sum() + np.trace(cx + cy - 2 * root))
