"""THEval's five offline metrics and its GT-normalised score (Newbyl/THEval, CVPR 2026 Findings).

Each function reproduces what THEval's script computes from per-frame points (file names below are
THEval's); the point sets are the iBUG-68 equivalents of its FaceMesh ids (`IBUG68`), since the
harness's landmark backends give iBUG-68 (THEval's own mesh ids are kept in `THEVAL_MESH` for a mesh
feature). Where THEval bridges differences across frames without a face, `bridge_gaps=True` does the
same; our variants pass False and take differences only inside runs of consecutive faces.

Units follow THEval: lip dynamics in pixels of a 256×256 resize (so it scales with face size), eyebrow
dynamics per frame (fps-dependent), head-motion dynamics in degrees mixed with translation units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from benchmark.perception.av_signals import INNER_LIP_PAIRS
from metrics.motion.frames import frame_diffs, runs, valid_frames

# THEval's FaceMesh ids (lip_dynamics.py FACEMESH_LIPS, eyebrow_dynamics.py, silent_lip_stability.py, lip_sync.py)
THEVAL_MESH = {
    "lips": (
        0,
        13,
        14,
        17,
        37,
        39,
        40,
        61,
        78,
        80,
        81,
        82,
        84,
        87,
        88,
        91,
        95,
        146,
        178,
        181,
        185,
        191,
        267,
        269,
        270,
        291,
        308,
        310,
        311,
        312,
        314,
        317,
        318,
        321,
        324,
        375,
        402,
        405,
        409,
        415,
    ),
    "brow_left": (276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
    "brow_right": (46, 52, 53, 55, 63, 65, 66, 70, 105, 107),
    "eye_left": (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466),
    "eye_right": (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246),
    "lip_upper": (191, 80, 81, 82, 13, 312, 311, 310),
    "lip_lower": (95, 88, 178, 87, 14, 317, 402, 318),
    "iod": (33, 263),
    "eye_corners_right": (33, 133),
    "eye_corners_left": (362, 263),
}
# the same roles in iBUG-68 (the subject's left is the image's right: brow 22-26, eye 42-47)
IBUG68 = {
    "lips": tuple(range(48, 68)),
    "brow_left": tuple(range(22, 27)),
    "brow_right": tuple(range(17, 22)),
    "eye_left": tuple(range(42, 48)),
    "eye_right": tuple(range(36, 42)),
    "lip_upper": tuple(a for a, _ in INNER_LIP_PAIRS),
    "lip_lower": tuple(b for _, b in INNER_LIP_PAIRS),
    "iod": (36, 45),
    "eye_corners_right": (36, 39),
    "eye_corners_left": (42, 45),
}
THEVAL_SIZE = 256  # lip dynamics and silent-lip stability resize every frame to 256×256 first
MIN_SILENCE_S = 0.3  # silent_lip_stability.py MIN_SILENCE_DURATION = 300 ms
MAX_LIP_FRAMES = 500  # lip_dynamics.py scores only the first segment of 500 frames


def to_theval_square(points: np.ndarray, frame_size: tuple[int, int]) -> np.ndarray:
    """Pixel points (centres at integers) of a W×H frame -> THEval's coordinates after its 256×256
    resize: normalised x · 256, y · 256 (mediapipe's normalised coordinates put pixel i at (i + 0.5) / W)."""
    w, h = frame_size
    p = np.asarray(points, dtype=np.float64)
    return (p + 0.5) / np.array([w, h], dtype=np.float64) * THEVAL_SIZE


# --- Naturalness ---------------------------------------------------------------------------------------------


def lip_dynamics(lips: np.ndarray, found: np.ndarray | None = None, max_frames: int = MAX_LIP_FRAMES) -> float:
    """Std_Over_Time (lip_dynamics.py): mean over the K(K-1)/2 pairwise lip-point distances of their
    std over frames with a face (np.std, ddof 0); 0.0 when no frame has one (THEval's value, not NaN).

    `lips` (T, K, 2) in THEval's 256-space (`to_theval_square`); only the first `max_frames` frames."""
    lips = np.asarray(lips, dtype=np.float64)[:max_frames]
    ok = valid_frames(lips, found=None if found is None else np.asarray(found)[:max_frames])
    if not ok.any():
        return 0.0
    i, j = np.array(list(combinations(range(lips.shape[1]), 2))).T
    d = np.linalg.norm(lips[ok][:, i] - lips[ok][:, j], axis=-1)
    return float(np.mean(np.std(d, axis=0)))


def eyebrow_heights(
    brow_left, brow_right, eye_left, eye_right, found=None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Brow-to-eye centroid distance per side over the eye-centroid distance (eyebrow_dynamics.py 69-112):
    (left, right, usable) where usable drops frames without a face or with eye distance < 1e-3."""
    c = {
        k: np.asarray(v, dtype=np.float64).mean(axis=1)
        for k, v in (("bl", brow_left), ("br", brow_right), ("el", eye_left), ("er", eye_right))
    }
    scale = np.linalg.norm(c["el"] - c["er"], axis=-1)
    ok = valid_frames(c["bl"], c["br"], c["el"], c["er"], found=found) & (np.nan_to_num(scale) >= 1e-3)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.linalg.norm(c["bl"] - c["el"], axis=-1) / scale
        right = np.linalg.norm(c["br"] - c["er"], axis=-1) / scale
    return left, right, ok


def eyebrow_dynamics(brow_left, brow_right, eye_left, eye_right, found=None, bridge_gaps: bool = True) -> float:
    """Micro-Expression Intensity (eyebrow_dynamics.py 114-132): (Σ|Δh_L| + Σ|Δh_R|) / (N_L + N_R) over
    consecutive usable frames; 0.0 with no transition. Per frame (multiply by fps for per second)."""
    left, right, ok = eyebrow_heights(brow_left, brow_right, eye_left, eye_right, found)
    dl, dr = frame_diffs(left, ok, bridge_gaps), frame_diffs(right, ok, bridge_gaps)
    n = dl.size + dr.size
    return float((np.abs(dl).sum() + np.abs(dr).sum()) / n) if n else 0.0


def head_motion_dynamics(angles: np.ndarray, centre: np.ndarray, found=None, bridge_gaps: bool = True) -> float:
    """head_motion_dynamics.py 88-115: sqrt(mean_a std(a) · mean_a var(diff a) + (var cx + var cy) / 2),
    a ∈ {yaw, pitch, roll} in degrees over frames with a face (np.std/np.var, ddof 0); var(diff) = 0 with
    fewer than 2 differences, the translation term 0 with fewer than 2 frames; NaN with no face (THEval
    skips the video). THEval's centre is a face box centre in pixels; our variant passes the pose's
    translation in inter-ocular distances and bridge_gaps=False."""
    angles = np.asarray(angles, dtype=np.float64)
    centre = np.asarray(centre, dtype=np.float64)
    ok = valid_frames(angles, centre, found=found)
    if not ok.any():
        return float("nan")
    a = angles[ok]
    avg_std = float(np.mean(np.std(a, axis=0)))
    d = frame_diffs(angles, ok, bridge_gaps)
    avg_dvar = float(np.mean(np.var(d, axis=0))) if len(d) > 1 else 0.0
    c = centre[ok]
    trans = float((np.var(c[:, 0]) + np.var(c[:, 1])) / 2) if len(c) > 1 else 0.0
    return float(np.sqrt(avg_std * avg_dvar + trans))


# --- Synchronization -----------------------------------------------------------------------------------------


def silent_frames(intervals, fps: float, n_frames: int, min_silence_s: float = MIN_SILENCE_S) -> np.ndarray:
    """silent_lip_stability.py 51-72: every frame outside [int(start·fps), int(end·fps)] (inclusive) of each
    speech interval, kept only in runs of at least min_silence_s · fps frames."""
    from benchmark.perception.vad import speech_frame_mask

    silent = ~speech_frame_mask(intervals, fps, n_frames)
    keep = np.zeros(n_frames, dtype=bool)
    for a, b in runs(silent):
        if b - a >= min_silence_s * fps:
            keep[a:b] = True
    return keep


def silent_openness(
    points256: np.ndarray, upper=IBUG68["lip_upper"], lower=IBUG68["lip_lower"], iod=IBUG68["iod"]
) -> np.ndarray:
    """Per frame: mean over facing lip pairs of |y_upper − y_lower| over the outer-eye-corner distance,
    all in THEval's 256-space (silent_lip_stability.py 83-99); NaN where no face or distance < 1e-3."""
    p = np.asarray(points256, dtype=np.float64)
    eye = np.linalg.norm(p[:, iod[0]] - p[:, iod[1]], axis=-1)
    gaps = np.abs(p[:, list(upper), 1] - p[:, list(lower), 1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(eye >= 1e-3, (gaps / eye[:, None]).mean(axis=1), np.nan)


def silent_lip_stability(openness: np.ndarray, silent: np.ndarray) -> float:
    """Silent MAD (silent_lip_stability.py 127-132): median over silent frames with a face of
    |o_t − mean(o)| (the median deviation about the mean); NaN with fewer than 2 such frames."""
    o = np.asarray(openness, dtype=np.float64)[np.asarray(silent, dtype=bool)]
    o = o[np.isfinite(o)]
    if o.size < 2:
        return float("nan")
    return float(np.median(np.abs(o - o.mean())))


def lip_sync_openness(
    points: np.ndarray,
    frame_size: tuple[int, int],
    upper=IBUG68["lip_upper"],
    lower=IBUG68["lip_lower"],
    right=IBUG68["eye_corners_right"],
    left=IBUG68["eye_corners_left"],
) -> np.ndarray:
    """lip_sync.py 67-75: |mean y(upper) − mean y(lower)| / |mean x(right eye corners) − mean x(left ones)|
    in normalised coordinates (y ÷ H over x ÷ W); NaN where no face or the eye distance is 0."""
    w, h = frame_size
    p = np.asarray(points, dtype=np.float64)
    gap = np.abs(p[:, list(upper), 1].mean(axis=1) - p[:, list(lower), 1].mean(axis=1)) / h
    eyes = np.abs(p[:, list(right), 0].mean(axis=1) - p[:, list(left), 0].mean(axis=1)) / w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(eyes > 0, gap / eyes, np.nan)


def lip_sync(openness: np.ndarray, volume: np.ndarray, speech: np.ndarray, eps: float = 1e-8) -> float:
    """Mean_Difference (lip_sync.py 92-104): on speech frames with a face, openness and RMS volume each
    min-max normalised, then mean |ô − v̂|; NaN when under 10 % of the frames are speech or fewer than 2
    frames remain. Lower is closer; no lag search."""
    o = np.asarray(openness, dtype=np.float64)
    v = np.asarray(volume, dtype=np.float64)
    speech = np.asarray(speech, dtype=bool)
    mask = speech & np.isfinite(o)
    if speech.size == 0 or speech.mean() < 0.1 or mask.sum() < 2:
        return float("nan")
    o, v = o[mask], v[mask]
    on = (o - o.min()) / (o.max() - o.min() + eps)
    vn = (v - v.min()) / (v.max() - v.min() + eps)
    return float(np.mean(np.abs(on - vn)))


# --- The score -----------------------------------------------------------------------------------------------

GROUPS = {
    "naturalness": ("lip-dynamics", "head-motion-dynamics", "eyebrow-dynamics"),
    "synchronization": ("silent-lip-stability", "lip-sync"),
}


@dataclass
class TheValScore:
    per_metric: dict[str, float]
    groups: dict[str, float] = field(default_factory=dict)
    final: float = float("nan")


def theval_score(
    values: dict[str, float],
    gt: dict[str, float],
    weights: dict[str, float] | None = None,
    groups: dict[str, tuple[str, ...]] = GROUPS,
    eps: float = 1e-9,
) -> TheValScore:
    """scoring.py 121-209: s_m = 1 − |m − GT_m| / |GT_m| per metric (unclipped: negative beyond 2·GT, and
    a value 'better' than GT costs as much as a worse one); final = weighted mean of the s_m (weights 1);
    each group = plain mean of its metrics that are present. GT itself scores exactly 1.

    Raises ValueError if a GT value is within `eps` of 0 (THEval refuses it too)."""
    names = [m for m in values if m in gt]
    zero = [m for m in names if abs(gt[m]) <= eps]
    if zero:
        raise ValueError(f"GT values must be non-zero for THEval's normalisation: {', '.join(zero)}")
    s = {m: 1.0 - abs(values[m] - gt[m]) / abs(gt[m]) for m in names}
    w = {m: 1.0 if weights is None else float(weights.get(m, 1.0)) for m in names}
    final = sum(s[m] * w[m] for m in names) / sum(w.values()) if names else float("nan")
    grouped = {g: float(np.mean([s[m] for m in ms if m in s])) for g, ms in groups.items() if any(m in s for m in ms)}
    return TheValScore(s, grouped, float(final))
