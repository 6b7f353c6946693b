"""Head pose per frame from the rigid iBUG-68 points: yaw, pitch, roll (degrees) and translation.

Why iBUG-68 and not the 478-point mesh: every landmark backend (mediapipe, dlib68, fan) gives these
points, the clip context already computes and caches them, so pose costs only this solver (well under a
millisecond a frame); and mediapipe 0.10.21's wheel ships no canonical mesh to fit against.

Why only rigid points: the nose (27-35) and the four eye corners (36, 39, 42, 45) do not move when the
jaw opens, the lips round, the brows rise or the lids blink, so none of those can leak into the angles
(the jaw contour, mouth, brows and lids are left out by construction).

The fit: a weighted scaled-orthographic ("weak perspective") Procrustes of a 3-D reference shape onto the
frame's 2-D points, x_img ≈ s · Π R X + t. The reference is our own (`CANONICAL_RIGID`, proportions of an
average adult face in outer-eye-corner units, written here, not copied from a data file) or the clip's
own median shape lifted to 3-D with the canonical depths (`reference_from_points`), which removes the
constant bias a face's proportions put into the absolute angles. An affine least-squares start is
orthonormalised and refined by Gauss-Newton on the rotation.

Conventions (camera axes: x right, y down, z away from the camera; R = Rz(roll) · Ry(yaw) · Rx(pitch)):
yaw > 0 turns the face to the subject's right (the nose tip moves to the image's left), pitch > 0 nods
down (the nose tip moves down), roll > 0 turns the face clockwise as seen in the image. Translation is
the reference origin's image position (the mid-point of the outer eye corners at rest) divided by the
clip's median inter-ocular distance in pixels, so it is independent of the frame size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# iBUG-68 ids of the rigid points and our canonical shape for them: x right, y down, z away from the
# camera; unit = the outer-eye-corner distance (36-45), origin = their mid-point. Proportions of an
# average adult face (eye fissure ~30 mm of ~90 mm ex-ex, nose tip ~38 mm in front of the outer corners).
RIGID_IDS = (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45)
CANONICAL_MM = {
    27: (0.0, -5.0, -18.0),  # nasion (bridge between the eyes)
    28: (0.0, 12.0, -24.0),
    29: (0.0, 25.0, -30.0),
    30: (0.0, 38.0, -38.0),  # nose tip
    31: (-15.0, 44.0, -14.0),  # nostril wings to subnasale
    32: (-8.0, 46.0, -20.0),
    33: (0.0, 47.0, -23.0),
    34: (8.0, 46.0, -20.0),
    35: (15.0, 44.0, -14.0),
    36: (-45.0, 0.0, 0.0),  # outer corner of the subject's right eye (image left)
    39: (-16.0, 2.0, -8.0),  # its inner corner
    42: (16.0, 2.0, -8.0),
    45: (45.0, 0.0, 0.0),
}
CANONICAL_RIGID = np.array([CANONICAL_MM[i] for i in RIGID_IDS], dtype=np.float64) / 90.0
RIGID_WEIGHTS = np.ones(len(RIGID_IDS))
OUTER_EYE_CORNERS = (36, 45)


@dataclass
class HeadPose:
    """Per-frame pose; NaN rows where no face (or a degenerate fit)."""

    angles: np.ndarray  # (T, 3) yaw, pitch, roll in degrees
    translation: np.ndarray  # (T, 2) x, y of the reference origin, in inter-ocular distances
    scale: np.ndarray  # (T,) pixels per inter-ocular distance (s of the fit)
    residual: np.ndarray  # (T,) weighted RMS reprojection error, in inter-ocular distances

    @property
    def yaw(self) -> np.ndarray:
        return self.angles[:, 0]

    @property
    def pitch(self) -> np.ndarray:
        return self.angles[:, 1]

    @property
    def roll(self) -> np.ndarray:
        return self.angles[:, 2]

    def vector(self) -> np.ndarray:
        """(T, 5): yaw, pitch, roll (degrees), tx, ty (inter-ocular distances), what pose L1 and FD compare."""
        return np.concatenate([self.angles, self.translation], axis=1)


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """R = Rz(roll) · Ry(yaw) · Rx(pitch), angles in degrees (camera axes, see the module doc)."""
    a, b, g = np.deg2rad([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    return rz @ ry @ rx


def euler_angles(r: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations -> (..., 3) yaw, pitch, roll in degrees (inverse of `rotation`)."""
    yaw = -np.arcsin(np.clip(r[..., 2, 0], -1.0, 1.0))
    pitch = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    return np.rad2deg(np.stack([yaw, pitch, roll], axis=-1))


def reference_from_points(points: np.ndarray, found: np.ndarray | None = None) -> np.ndarray:
    """A 3-D reference with this face's proportions: the median of its rigid points over `points`'
    frames (each frame first brought to the canonical shape's size and place by a least-squares scale
    and shift, no rotation), lifted to 3-D with the canonical depths. Angles measured against it are
    relative to the median head pose of those frames, roll included.

    `points` (T, 68, 2) pixels; a single frame (1, 68, 2) works too (e.g. the identity image)."""
    rigid = np.asarray(points, dtype=np.float64)[:, RIGID_IDS]
    ok = np.isfinite(rigid).all(axis=(1, 2))
    if found is not None:
        ok &= np.asarray(found, dtype=bool)
    if not ok.any():
        raise ValueError("no frame with a face to build a pose reference from")
    target = CANONICAL_RIGID[:, :2]
    aligned = np.stack([_scale_align(frame, target) for frame in rigid[ok]])
    shape = np.median(aligned, axis=0)
    return np.concatenate([shape, CANONICAL_RIGID[:, 2:]], axis=1)


def _scale_align(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`source` (N, 2) moved onto `target` by the least-squares isotropic scale and translation."""
    a, b = source - source.mean(0), target - target.mean(0)
    return (a * b).sum() / (a * a).sum() * a + target.mean(0)


def estimate_head_pose(
    points: np.ndarray,
    found: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    iterations: int = 8,
) -> HeadPose:
    """(T, 68, 2) iBUG-68 pixels -> HeadPose; frames without a face (or with NaN rigid points) stay NaN.

    `reference`: (13, 3) shape for RIGID_IDS in inter-ocular units (default: CANONICAL_RIGID)."""
    points = np.asarray(points, dtype=np.float64)
    model = CANONICAL_RIGID if reference is None else np.asarray(reference, dtype=np.float64)
    w = RIGID_WEIGHTS if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    n = len(points)
    angles = np.full((n, 3), np.nan)
    origin = np.full((n, 2), np.nan)
    scale = np.full(n, np.nan)
    residual = np.full(n, np.nan)
    rigid = points[:, RIGID_IDS] if n else np.zeros((0, len(RIGID_IDS), 2))
    ok = np.isfinite(rigid).all(axis=(1, 2))
    if found is not None:
        ok &= np.asarray(found, dtype=bool)
    if ok.any():
        r, s, t, res = _fit(rigid[ok], model, w, iterations)
        angles[ok], scale[ok], residual[ok] = euler_angles(r), s, res
        origin[ok] = t
    iod = np.nanmedian(scale) if np.isfinite(scale).any() else np.nan
    return HeadPose(angles, origin / iod, scale, residual)


def _fit(p: np.ndarray, x: np.ndarray, w: np.ndarray, iterations: int):
    """Batch weak-perspective Procrustes: p (F, N, 2) image points, x (N, 3) model -> R (F,3,3), s, t, rms."""
    xc = x - w @ x  # model about its weighted centroid
    pbar = np.einsum("n,fnk->fk", w, p)
    pc = p - pbar[:, None]
    # affine start: M (2x3) minimising sum w |pc - M xc|^2, then the nearest scaled orthonormal rows
    gram = (xc * w[:, None]).T @ xc
    m = np.einsum("fnk,n,nj->fkj", pc, w, xc) @ np.linalg.inv(gram)
    u, sig, vt = np.linalg.svd(m)  # u (F,2,2), vt (F,3,3)
    rows = u @ vt[:, :2]
    r = np.concatenate([rows, np.cross(rows[:, 0], rows[:, 1])[:, None]], axis=1)
    s = sig.mean(axis=1)
    sw = np.sqrt(w)[None, :, None]
    for _ in range(iterations):
        rx = np.einsum("fij,nj->fni", r, xc)  # rotated model (F, N, 3)
        res = pc - s[:, None, None] * rx[..., :2]
        # d(Π R exp([δ]x) x)/dδ = -Π R [x]x ; columns: δ (3) then s
        skew = _skew(xc)  # (N, 3, 3)
        jr = -s[:, None, None, None] * np.einsum("fij,njk->fnik", r[:, :2], skew)  # (F, N, 2, 3)
        js = rx[..., :2, None]  # (F, N, 2, 1)
        jac = np.concatenate([jr, js], axis=-1) * sw[..., None]
        jac = jac.reshape(len(p), -1, 4)
        lhs = np.einsum("fmi,fmj->fij", jac, jac)
        rhs = np.einsum("fmi,fm->fi", jac, (res * sw).reshape(len(p), -1))
        delta = np.linalg.solve(lhs + 1e-12 * np.eye(4), rhs[..., None])[..., 0]
        r = r @ _expm_so3(delta[:, :3])
        s = s + delta[:, 3]
    rx = np.einsum("fij,nj->fni", r, xc)
    res = pc - s[:, None, None] * rx[..., :2]
    rms = np.sqrt(np.einsum("n,fn->f", w, (res**2).sum(-1))) / s
    # the model origin (outer-eye mid-point at rest) in the image: centroid minus the rotated centroid offset
    t = pbar - s[:, None] * np.einsum("fij,j->fi", r[:, :2], w @ x)
    return r, s, t, rms


def _skew(v: np.ndarray) -> np.ndarray:
    out = np.zeros(v.shape[:-1] + (3, 3))
    out[..., 0, 1], out[..., 0, 2] = -v[..., 2], v[..., 1]
    out[..., 1, 0], out[..., 1, 2] = v[..., 2], -v[..., 0]
    out[..., 2, 0], out[..., 2, 1] = -v[..., 1], v[..., 0]
    return out


def _expm_so3(omega: np.ndarray) -> np.ndarray:
    """Rodrigues: (F, 3) rotation vectors -> (F, 3, 3)."""
    theta = np.linalg.norm(omega, axis=-1)[:, None, None]
    k = _skew(omega)
    small = theta < 1e-12
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1.0, np.sin(safe) / safe)
    b = np.where(small, 0.5, (1 - np.cos(safe)) / safe**2)
    return np.eye(3) + a * k + b * (k @ k)


def project(model: np.ndarray, yaw: float, pitch: float, roll: float, scale: float, origin: np.ndarray) -> np.ndarray:
    """Weak-perspective image of a 3-D shape (N, 3) posed by the angles: (N, 2) pixels. For tests and mini."""
    r = rotation(yaw, pitch, roll)
    return scale * (model @ r.T)[:, :2] + np.asarray(origin, dtype=np.float64)
