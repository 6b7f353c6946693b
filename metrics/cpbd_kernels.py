"""Compiled (numba) per-pixel loops for CPBD's hot steps, bit-identical to the numpy ones in metrics/cpbd.py.

numpy spends most of CPBD's time building whole-frame temporaries for steps that are local
(Canny's Sobel + non-maximum suppression) or sparse (Marziliano's row walks from each edge
pixel). These loops do the same float operations in the same order, without the temporaries:
- Sobel as scipy.ndimage.correlate1d evaluates it ([-1, 0, 1] -> next - previous; [1, 2, 1] ->
  2 * centre + (previous + next)), 'reflect' borders;
- skimage's bilinear non-maximum suppression, as `_nonmaximum_suppression` writes it;
- Marziliano widths as run lengths of same-signed horizontal steps (a step b - a > 0 exactly when b > a).
No fastmath, so no reassociation or fused multiply-adds. tests/test_cpbd.py checks every step
against the numpy one and the `cpbd` package on images these loops were not written against.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _reflect(k: int, n: int) -> int:
    """scipy's 'reflect' (half-sample symmetric) index for a 1-pixel overhang."""
    if k < 0:
        return 0
    if k >= n:
        return n - 1
    return k


@njit(cache=True, nogil=True)
def _sobel(g: np.ndarray, along_rows: bool, centre: float, side: float, step: np.ndarray, out: np.ndarray) -> None:
    """One frame through scipy's correlate1d([-1, 0, 1]) along rows (axis 0) or columns, then
    correlate1d([side, centre, side]) along the other axis, 'reflect' borders, evaluated as scipy
    does: next - previous, then centre * x + (previous + next) * side. `step` is scratch space."""
    h, w = g.shape
    for i in range(h):
        up, down = _reflect(i - 1, h), _reflect(i + 1, h)
        for j in range(w):
            if along_rows:
                step[i, j] = g[down, j] - g[up, j]
            else:
                step[i, j] = g[i, _reflect(j + 1, w)] - g[i, _reflect(j - 1, w)]
    for i in range(h):
        up, down = _reflect(i - 1, h), _reflect(i + 1, h)
        for j in range(w):
            if along_rows:
                neighbours = step[i, _reflect(j - 1, w)] + step[i, _reflect(j + 1, w)]
            else:
                neighbours = step[up, j] + step[down, j]
            out[i, j] = step[i, j] * centre + neighbours * side


@njit(cache=True, nogil=True)
def canny_candidates(smooth: np.ndarray, low: float, high: float) -> np.ndarray:
    """(N, H, W) smoothed float64 -> (N, H, W) uint8: 0 suppressed, 1 kept below `high`, 2 kept at or above.

    Kept = skimage.feature.canny's non-maximum suppression with the low threshold (border never kept).
    """
    n, h, w = smooth.shape
    out = np.zeros((n, h, w), np.uint8)
    step = np.empty((h, w))
    isobel = np.empty((h, w))
    jsobel = np.empty((h, w))
    magnitude = np.empty((h, w))
    for f in range(n):
        _sobel(smooth[f], True, 2.0, 1.0, step, isobel)  # skimage's Sobel: scipy.ndimage.sobel per axis
        _sobel(smooth[f], False, 2.0, 1.0, step, jsobel)
        for i in range(h):
            for j in range(w):
                gi, gj = isobel[i, j], jsobel[i, j]
                magnitude[i, j] = np.sqrt(gi * gi + gj * gj)
        for i in range(1, h - 1):
            for j in range(1, w - 1):
                m = magnitude[i, j]
                if not m >= low:
                    continue
                gi, gj = isobel[i, j], jsobel[i, j]
                abs_i, abs_j = abs(gi), abs(gj)
                same_sign = (gi <= 0) == (gj <= 0)
                along_rows = abs_i > abs_j if same_sign else abs_i >= abs_j
                weight = min(abs_i, abs_j) / max(abs_i, abs_j)
                if along_rows:
                    n11 = magnitude[i + 1, j] if same_sign else magnitude[i - 1, j]
                    n21 = magnitude[i - 1, j] if same_sign else magnitude[i + 1, j]
                else:
                    n11, n21 = magnitude[i, j + 1], magnitude[i, j - 1]
                n12 = magnitude[i + 1, j + 1] if same_sign else magnitude[i - 1, j + 1]
                n22 = magnitude[i - 1, j - 1] if same_sign else magnitude[i + 1, j - 1]
                if n12 * weight + n11 * (1.0 - weight) <= m and n22 * weight + n21 * (1.0 - weight) <= m:
                    out[f, i, j] = 2 if m >= high else 1
    return out


@njit(cache=True, nogil=True)
def any_nonzero_angle(gray: np.ndarray) -> np.ndarray:
    """(N, H, W) -> (N,) bool: does np.gradient give some pixel a non-zero reference angle
    (x gradient non-zero, and y gradient non-zero or x gradient negative)? One-sided at borders."""
    n, h, w = gray.shape
    found = np.zeros(n, np.bool_)
    for f in range(n):
        g = gray[f]
        for i in range(h):
            for j in range(w):
                if j == 0:
                    gx = (g[i, 1] - g[i, 0]) / 1.0
                elif j == w - 1:
                    gx = (g[i, w - 1] - g[i, w - 2]) / 1.0
                else:
                    gx = (g[i, j + 1] - g[i, j - 1]) / 2.0
                if gx == 0:
                    continue
                if gx < 0:
                    found[f] = True
                    break
                if i == 0:
                    gy = (g[1, j] - g[0, j]) / 1.0
                elif i == h - 1:
                    gy = (g[h - 1, j] - g[h - 2, j]) / 1.0
                else:
                    gy = (g[i + 1, j] - g[i - 1, j]) / 2.0
                if gy != 0:
                    found[f] = True
                    break
            if found[f]:
                break
    return found


@njit(cache=True, nogil=True)
def walk_widths(
    gray: np.ndarray, frames: np.ndarray, rows: np.ndarray, cols: np.ndarray, rising: np.ndarray, max_margin: int
) -> np.ndarray:
    """Marziliano width at each listed edge pixel: same-signed horizontal steps ending at col - 2
    (leftwards) and starting at col + 1 (rightwards), each capped at `max_margin`, plus 2."""
    w = gray.shape[2]
    widths = np.empty(len(frames))
    for k in range(len(frames)):
        row = gray[frames[k], rows[k]]
        up = rising[k]
        left = 0
        c = cols[k] - 2
        while c >= 0 and left < max_margin and ((row[c + 1] > row[c]) if up else (row[c + 1] < row[c])):
            left += 1
            c -= 1
        right = 0
        c = cols[k] + 1
        while c < w - 1 and right < max_margin and ((row[c + 1] > row[c]) if up else (row[c + 1] < row[c])):
            right += 1
            c += 1
        widths[k] = left + 1 + right + 1
    return widths


@njit(cache=True, nogil=True)
def luma(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, H, W) float64 grey, PIL's integer ITU-R 601-2 formula."""
    n, h, w, _ = frames.shape
    out = np.empty((n, h, w))
    for f in range(n):
        for i in range(h):
            for j in range(w):
                r, g, b = np.uint32(frames[f, i, j, 0]), np.uint32(frames[f, i, j, 1]), np.uint32(frames[f, i, j, 2])
                out[f, i, j] = float((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16)
    return out


@njit(cache=True, nogil=True)
def octave_gradient(gray: np.ndarray) -> np.ndarray:
    """Vertical-edge gradient of integer grey, as correlate1d [-1, 0, 1] along columns then
    [1/8, 1/4, 1/8] along rows ('reflect'): centre * 1/4 + (previous + next) * 1/8."""
    n, h, w = gray.shape
    out = np.empty((n, h, w))
    step = np.empty((h, w))
    for f in range(n):
        _sobel(gray[f], False, 0.25, 0.125, step, out[f])
    return out


@njit(cache=True, nogil=True)
def thin_edges(strength: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Octave thinning: strength above its frame's threshold and strictly above both horizontal
    or both vertical neighbours (a neighbour beyond the border, or under the threshold, counts as 0)."""
    n, h, w = strength.shape
    out = np.zeros((n, h, w), np.bool_)
    for f in range(n):
        s, t = strength[f], thresholds[f]
        for i in range(h):
            for j in range(w):
                v = s[i, j]
                if not v > t:
                    continue
                left = s[i, j - 1] if j > 0 and s[i, j - 1] > t else 0.0
                right = s[i, j + 1] if j < w - 1 and s[i, j + 1] > t else 0.0
                if v > left and v > right:
                    out[f, i, j] = True
                    continue
                above = s[i - 1, j] if i > 0 and s[i - 1, j] > t else 0.0
                below = s[i + 1, j] if i < h - 1 and s[i + 1, j] > t else 0.0
                out[f, i, j] = v > above and v > below
    return out


@njit(cache=True, nogil=True)
def block_counts(
    gray: np.ndarray,
    canny: np.ndarray,
    widths: np.ndarray,
    sharp: np.ndarray,
    block: int,
    min_edge_pixels: int,
    jnb_contrast: int,
) -> tuple:
    """Per frame (sharp edges, measured edges) over whole edge blocks. `sharp[k, width]` says whether
    an edge of that integer width is sharp under JNB width k (0: low contrast, 1: high contrast)."""
    n, h, w = gray.shape
    sharp_count = np.zeros(n)
    total = np.zeros(n)
    for f in range(n):
        for bi in range(h // block):
            for bj in range(w // block):
                edge_pixels = 0
                lo, hi = np.inf, -np.inf
                for i in range(bi * block, (bi + 1) * block):
                    for j in range(bj * block, (bj + 1) * block):
                        edge_pixels += canny[f, i, j]
                        v = gray[f, i, j]
                        lo, hi = min(lo, v), max(hi, v)
                if edge_pixels < min_edge_pixels:
                    continue
                k = 0 if int(hi - lo) <= jnb_contrast else 1
                for i in range(bi * block, (bi + 1) * block):
                    for j in range(bj * block, (bj + 1) * block):
                        width = widths[f, i, j]
                        if width != 0:
                            total[f] += 1
                            sharp_count[f] += sharp[k, int(width)]
    return sharp_count, total


@njit(cache=True, nogil=True)
def edge_gradients(gray: np.ndarray, edges: np.ndarray, any_angle: np.ndarray) -> tuple:
    """Interior edge pixels of frames with some non-zero angle: (frame, row, col, x gradient, y gradient),
    np.gradient's central differences, in C order."""
    n, h, w = gray.shape
    count = 0
    for f in range(n):
        if any_angle[f]:
            for i in range(1, h - 1):
                for j in range(1, w - 1):
                    count += edges[f, i, j]
    frames, rows, cols = np.empty(count, np.int64), np.empty(count, np.int64), np.empty(count, np.int64)
    gx, gy = np.empty(count), np.empty(count)
    k = 0
    for f in range(n):
        if not any_angle[f]:
            continue
        g = gray[f]
        for i in range(1, h - 1):
            for j in range(1, w - 1):
                if edges[f, i, j]:
                    frames[k], rows[k], cols[k] = f, i, j
                    gx[k] = (g[i, j + 1] - g[i, j - 1]) / 2.0
                    gy[k] = (g[i + 1, j] - g[i - 1, j]) / 2.0
                    k += 1
    return frames, rows, cols, gx, gy
