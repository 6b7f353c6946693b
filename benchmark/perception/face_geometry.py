"""Pure geometry on iBUG-68 landmarks: the measurements several metrics share.

Computed in float64 whatever the points' dtype, so a ratio agrees with a hand computation to ~1e-15.
"""

from __future__ import annotations

import numpy as np

MOUTH = slice(48, 68)
RIGHT_EYE, LEFT_EYE = slice(36, 42), slice(42, 48)  # subject's right eye is on the image left


def _dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis=-1)


def eye_aspect_ratio(points: np.ndarray) -> np.ndarray:
    """Soukupova & Cech 2016, averaged over both eyes: (T, 68, 2) -> (T,)."""

    def one(eye: np.ndarray) -> np.ndarray:
        p1, p2, p3, p4, p5, p6 = (eye[:, i] for i in range(6))
        return (_dist(p2, p6) + _dist(p3, p5)) / (2.0 * _dist(p1, p4))

    points = np.asarray(points, dtype=np.float64)
    return (one(points[:, RIGHT_EYE]) + one(points[:, LEFT_EYE])) / 2.0


def mouth_aperture(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (61-67, 62-66, 63-65 mean) over mouth width (48-54): (T, 68, 2) -> (T,)."""
    points = np.asarray(points, dtype=np.float64)
    gap = (
        _dist(points[:, 61], points[:, 67]) + _dist(points[:, 62], points[:, 66]) + _dist(points[:, 63], points[:, 65])
    ) / 3.0
    return gap / _dist(points[:, 48], points[:, 54])


def fill_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Linear interpolation over frames without a face (edges held), so a detector sees a continuous signal."""
    values = values.astype(np.float64).copy()
    if found.all() or not found.any():
        return values
    t = np.arange(values.size)
    values[~found] = np.interp(t[~found], t[found], values[found])
    return values


def face_box_from_landmarks(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) approximating a face detector's box (S3FD-like) from iBUG-68 points.

    Jaw extent left, right and bottom; the top 0.2 brow-to-chin distances above the brows. Used
    where the official pipeline's detector would download weights (Wav2Lip's and FAN's S3FD).
    """
    jaw, brows = points[0:17], points[17:27]
    chin, brow = float(jaw[:, 1].max()), float(brows[:, 1].mean())
    return float(jaw[:, 0].min()), brow - 0.2 * (chin - brow), float(jaw[:, 0].max()), chin
