"""The mini protocol's face: the astronaut photo, its measured landmarks, and a mesh warp.

Frames are made by moving known iBUG-68 landmarks and warping the photo piecewise-affinely
so the pixels follow them. Because we move the landmarks, the ground truth is exact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import map_coordinates
from scipy.spatial import Delaunay

ASSET = Path(__file__).parent / "assets" / "astronaut_ibug68.json"

# iBUG-68 index groups
JAW = list(range(0, 17))
LEFT_EYE_UPPER, LEFT_EYE_LOWER = [37, 38], [41, 40]
RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = [43, 44], [47, 46]
INNER_UPPER_LIP, INNER_LOWER_LIP = [61, 62, 63], [67, 66, 65]  # paired top/bottom
OUTER_LOWER_LIP = [55, 56, 57, 58, 59]
INNER_LIP_RING = list(range(60, 68))
MOUTH_CORNERS = [48, 54, 60, 64]


@dataclass(frozen=True)
class FaceTemplate:
    image: (
        np.ndarray
    )  # (S, S, 3) uint8, the photo's crop: the source every frame is warped from (mouth as photographed)
    landmarks: np.ndarray  # (68, 2) float64 x/y in the cropped frame
    anchors: np.ndarray  # (K, 2) extra control points that move rigidly with the head
    border: np.ndarray  # (B, 2) frame-border points that never move
    triangles: np.ndarray  # (M, 3) indices into [landmarks; anchors; border]


def ffhq_square(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre and side of the FFHQ crop (NVlabs rule, without rotation: the photo is upright)."""
    eye_left, eye_right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    eye_avg = (eye_left + eye_right) / 2
    eye_to_eye = eye_right - eye_left
    eye_to_mouth = (landmarks[48] + landmarks[54]) / 2 - eye_avg
    half = max(2.0 * np.hypot(*eye_to_eye), 1.8 * np.hypot(*eye_to_mouth))
    return eye_avg + 0.1 * eye_to_mouth, 2.0 * half


@lru_cache(maxsize=4)
def load_template(size: int = 256) -> FaceTemplate:
    from PIL import Image
    from skimage import data

    photo = data.astronaut()
    measured = np.asarray(json.loads(ASSET.read_text())["landmarks"], dtype=np.float64)
    centre, side = ffhq_square(measured)
    x0, y0 = np.round(centre - side / 2).astype(int)
    side = int(round(side))
    crop = Image.fromarray(photo).crop((x0, y0, x0 + side, y0 + side))
    image = np.asarray(crop.resize((size, size), Image.LANCZOS))
    scale = size / side
    # pixel centres: a point at pixel index i of the crop lands at (i + 0.5) * scale - 0.5
    landmarks = (measured - [x0, y0] + 0.5) * scale - 0.5
    anchors = _face_anchors(landmarks)
    border = _border_points(size)
    points = np.concatenate([landmarks, anchors, border])
    triangles = Delaunay(points).simplices.astype(np.int64)
    return FaceTemplate(image, landmarks, anchors, border, triangles)


def _face_anchors(landmarks: np.ndarray) -> np.ndarray:
    """A ring around the face (outside the jaw and above the brows) that confines local warps."""
    centre = landmarks[27:36].mean(0)
    jaw_ring = centre + 1.35 * (landmarks[JAW] - centre)
    brows = landmarks[17:27]
    brow_height = np.hypot(*(landmarks[8] - landmarks[27]))
    forehead = brows - [0.0, 0.45 * brow_height]
    return np.concatenate([jaw_ring, forehead])


def _border_points(size: int) -> np.ndarray:
    s = size - 1
    ticks = np.linspace(0, s, 5)
    top = np.stack([ticks, np.zeros(5)], 1)
    bottom = np.stack([ticks, np.full(5, s)], 1)
    left = np.stack([np.zeros(3), ticks[1:4]], 1)
    right = np.stack([np.full(3, s), ticks[1:4]], 1)
    return np.concatenate([top, bottom, left, right])


def piecewise_affine_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Warp `image` so that control points `src` move to `dst` (same triangulation for both).

    Each output pixel is mapped back through the affine map of the destination triangle that
    contains it; collapsed triangles (a closed eye or mouth) cover no pixels.
    """
    h, w = image.shape[:2]
    map_x, map_y = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    for tri in triangles:
        d, s = dst[tri], src[tri]
        area = (d[1, 0] - d[0, 0]) * (d[2, 1] - d[0, 1]) - (d[2, 0] - d[0, 0]) * (d[1, 1] - d[0, 1])
        if abs(area) < 1e-9:
            continue
        xmin, ymin = np.maximum(np.floor(d.min(0)).astype(int), 0)
        xmax, ymax = np.minimum(np.ceil(d.max(0)).astype(int), [w - 1, h - 1])
        if xmax < xmin or ymax < ymin:
            continue
        gx, gy = np.meshgrid(np.arange(xmin, xmax + 1), np.arange(ymin, ymax + 1))
        # barycentric coordinates of the pixel centres w.r.t. the destination triangle
        l1 = ((d[1, 1] - d[2, 1]) * (gx - d[2, 0]) + (d[2, 0] - d[1, 0]) * (gy - d[2, 1])) / area
        l2 = ((d[2, 1] - d[0, 1]) * (gx - d[2, 0]) + (d[0, 0] - d[2, 0]) * (gy - d[2, 1])) / area
        l3 = 1.0 - l1 - l2
        inside = (l1 >= -1e-9) & (l2 >= -1e-9) & (l3 >= -1e-9)
        if not inside.any():
            continue
        l1, l2, l3 = l1[inside], l2[inside], l3[inside]
        ys, xs = gy[inside], gx[inside]
        map_x[ys, xs] = l1 * s[0, 0] + l2 * s[1, 0] + l3 * s[2, 0]
        map_y[ys, xs] = l1 * s[0, 1] + l2 * s[1, 1] + l3 * s[2, 1]
    out = np.empty_like(image)
    for c in range(image.shape[2]):
        out[..., c] = np.clip(
            np.round(map_coordinates(image[..., c].astype(np.float64), [map_y, map_x], order=1, mode="nearest")), 0, 255
        )
    return out


def polygon_coverage(polygon: np.ndarray, shape: tuple[int, int], supersample: int = 4) -> np.ndarray:
    """Anti-aliased fraction of each pixel covered by `polygon` (x/y vertices)."""
    from skimage.draw import polygon as fill

    h, w = shape
    k = supersample
    mask = np.zeros((h * k, w * k), dtype=np.float32)
    rows, cols = fill((polygon[:, 1] + 0.5) * k - 0.5, (polygon[:, 0] + 0.5) * k - 0.5, shape=mask.shape)
    mask[rows, cols] = 1.0
    return mask.reshape(h, k, w, k).mean(axis=(1, 3))
