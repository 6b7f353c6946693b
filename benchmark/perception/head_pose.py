"""Head pose per frame from rigid face points: yaw, pitch, roll (degrees) and translation.

Two point sets, one solver:
- the face mesh's rigid points (`MESH_RIGID_IDS`, 31 of mediapipe's 478), when the landmark backend is
  mediapipe: 0.5 px of noise moves the angles about a quarter as much as on the 13 iBUG points, so
  every frame is within 1° at ordinary face sizes (tests/test_head_pose.py gives the figures);
- the 13 rigid iBUG-68 points (`RIGID_IDS`) for backends that give only those (dlib68, fan): within 1°
  RMS at 100 px between the outer eye corners, every frame within 1° only from ~300 px.

Why only rigid points: they do not move when the jaw opens, the lips round, the brows rise or the lids
blink, so none of those can leak into the angles. iBUG: the nose (27-35) and the four eye corners. Mesh:
mediapipe's geometry pipeline's 33 rigid points (forehead, brow ridge, nose, eye corners, cheekbones)
less 136 and 365, which sit on the jaw line: with them, opening mini's jaw read as up to 2.4° (mean
0.8°) of upward pitch; without, 0.2°.

The fit: a weighted scaled-orthographic ("weak perspective") Procrustes of a 3-D reference shape onto the
frame's 2-D points, x_img ≈ s · Π R X + t. The references are our own, in outer-eye-corner units with
the origin at their mid-point: `CANONICAL_RIGID` (proportions of an average adult face, written here),
and `MESH_CANONICAL` (mediapipe's own mesh, depth included, of skimage's astronaut photograph, turned to
face the camera as `CANONICAL_RIGID` does and made mirror-symmetric: `frontal_mesh_reference`, checked
against mediapipe by a test). Neither is copied from a data file. `reference_from_points` gives the
clip's own median iBUG shape instead, which removes the constant bias a face's proportions put into the
absolute angles. An affine least-squares start is orthonormalised and refined by Gauss-Newton.

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

# mediapipe face-mesh rigid points of `MESH_CANONICAL`, same axes and units as CANONICAL_RIGID: the
# midline points (y, z) and the subject's right-side points (x, y, z) with their mirror's id.
MESH_MIDLINE = {
    4: (0.4431, -0.4205),  # nose ridge above the tip
    6: (0.0883, -0.2844),  # between the eyes
    10: (-0.4728, -0.3106),  # top of the forehead
}
MESH_RIGHT = {
    (33, 263): (-0.5000, 0.0000, 0.0000),  # outer eye corners
    (54, 284): (-0.6431, -0.3569, 0.0715),
    (67, 297): (-0.3853, -0.4577, -0.2152),
    (117, 346): (-0.5752, 0.1426, 0.0349),
    (119, 348): (-0.3681, 0.1721, -0.0528),
    (121, 350): (-0.2085, 0.1341, -0.0969),
    (127, 356): (-0.7529, -0.0474, 0.5359),
    (129, 358): (-0.2647, 0.3761, -0.0923),
    (132, 361): (-0.7286, 0.3904, 0.6691),
    (133, 362): (-0.1955, 0.0356, -0.0503),  # inner eye corners
    (143, 372): (-0.6760, 0.0112, 0.1603),
    (147, 376): (-0.7048, 0.3793, 0.2377),
    (198, 420): (-0.1639, 0.3008, -0.2271),
    (205, 425): (-0.4808, 0.4000, -0.0341),
}
MESH_RIGID_IDS = (*MESH_MIDLINE, *(i for i, _ in MESH_RIGHT), *(j for _, j in MESH_RIGHT))
MESH_CANONICAL = np.array(
    [(0.0, *yz) for yz in MESH_MIDLINE.values()]
    + list(MESH_RIGHT.values())
    + [(-x, y, z) for x, y, z in MESH_RIGHT.values()],
    dtype=np.float64,
)
# the names of the two point sets, in HeadPose.points and in the pose metrics' records
IBUG_POINTS, MESH_POINTS = "ibug-rigid13", "mesh-rigid31"
# iBUG points with a mesh counterpart, which put the mesh reference in CANONICAL_RIGID's frontal pose
FRONTAL_ANCHORS = (27, 28, 29, 30, 36, 39, 42, 45)


@dataclass
class HeadPose:
    """Per-frame pose; NaN rows where no face (or a degenerate fit)."""

    angles: np.ndarray  # (T, 3) yaw, pitch, roll in degrees
    translation: np.ndarray  # (T, 2) x, y of the reference origin, in inter-ocular distances
    scale: np.ndarray  # (T,) pixels per inter-ocular distance (s of the fit)
    residual: np.ndarray  # (T,) weighted RMS reprojection error, in inter-ocular distances
    points: str = IBUG_POINTS  # which rigid points were fitted: IBUG_POINTS or MESH_POINTS

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
    rigid = points[:, RIGID_IDS] if len(points) else np.zeros((0, len(RIGID_IDS), 2))
    model = CANONICAL_RIGID if reference is None else reference
    return _pose(rigid, found, model, RIGID_WEIGHTS if weights is None else weights, iterations, IBUG_POINTS)


def estimate_head_pose_from_mesh(
    rigid_mesh: np.ndarray, found: np.ndarray | None = None, iterations: int = 8
) -> HeadPose:
    """(T, 31, 2 or 3) face-mesh points at MESH_RIGID_IDS, pixels -> HeadPose against MESH_CANONICAL
    (the points' depth, if given, is not used: the fit is to their image positions)."""
    rigid = np.asarray(rigid_mesh, dtype=np.float64)[..., :2]
    return _pose(rigid, found, MESH_CANONICAL, np.ones(len(MESH_RIGID_IDS)), iterations, MESH_POINTS)


def pose_points(keeps_rigid_mesh: bool) -> str:
    """Which rigid points `head_pose_of` fits for a backend: what the pose metrics' records name."""
    return MESH_POINTS if keeps_rigid_mesh else IBUG_POINTS


def head_pose_of(track) -> HeadPose:
    """The pose of a LandmarkTrack: from its mesh's rigid points when the backend kept them (mediapipe),
    else from its iBUG-68 rigid points."""
    if getattr(track, "rigid_mesh", None) is not None:
        return estimate_head_pose_from_mesh(track.rigid_mesh, track.found)
    return estimate_head_pose(track.points, track.found)


def _pose(rigid, found, model, weights, iterations: int, which_points: str) -> HeadPose:
    model = np.asarray(model, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    n = len(rigid)
    angles = np.full((n, 3), np.nan)
    origin = np.full((n, 2), np.nan)
    scale = np.full(n, np.nan)
    residual = np.full(n, np.nan)
    ok = np.isfinite(rigid).all(axis=(1, 2)) if n else np.zeros(0, dtype=bool)
    if found is not None:
        ok &= np.asarray(found, dtype=bool)
    if ok.any():
        r, s, t, res = _fit(rigid[ok], model, w, iterations)
        angles[ok], scale[ok], residual[ok] = euler_angles(r), s, res
        origin[ok] = t
    iod = np.nanmedian(scale) if np.isfinite(scale).any() else np.nan
    return HeadPose(angles, origin / iod, scale, residual, which_points)


def frontal_mesh_reference(mesh: np.ndarray, ibug_groups: list[list[int]]) -> np.ndarray:
    """How MESH_CANONICAL was made, from one face's mediapipe mesh (478, 3: x, y, z in pixels):
    the similarity (rotation, scale, shift) taking the mesh's FRONTAL_ANCHORS (iBUG points as the means
    of their mesh groups, `ibug_groups`) onto CANONICAL_RIGID's, applied to the rigid points; then each
    point averaged with its mirrored partner (midline points put on x = 0); then the outer eye corners'
    mid-point moved to the origin and their distance scaled to 1. Returns (31, 3) in MESH_RIGID_IDS order."""
    mesh = np.asarray(mesh, dtype=np.float64)
    anchors = np.array([mesh[ibug_groups[i]].mean(axis=0) for i in FRONTAL_ANCHORS])
    target = np.array([CANONICAL_MM[i] for i in FRONTAL_ANCHORS]) / 90.0
    a, b = anchors - anchors.mean(0), target - target.mean(0)
    u, sig, vt = np.linalg.svd(b.T @ a)
    flip = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ flip @ vt
    scale = np.trace(np.diag(sig) @ flip) / (a**2).sum()
    turned = {m: scale * (mesh[m] - anchors.mean(0)) @ rot.T for m in MESH_RIGID_IDS}
    mirror = np.array([-1.0, 1.0, 1.0])
    shape = {m: turned[m] * [0.0, 1.0, 1.0] for m in MESH_MIDLINE}
    for i, j in MESH_RIGHT:
        half = (turned[i] + turned[j] * mirror) / 2
        shape[i], shape[j] = half, half * mirror
    out = np.array([shape[m] for m in MESH_RIGID_IDS])
    right, left = out[MESH_RIGID_IDS.index(33)], out[MESH_RIGID_IDS.index(263)]
    return (out - (right + left) / 2) / np.linalg.norm(left - right)


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
