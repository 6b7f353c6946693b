"""CPBD sharpness (Narvekar & Karam 2011), batched and exact.

Re-implements the algorithm of the `cpbd` package (1.0.7 / cpbd-py312 1.0.3) over a stack of
frames at once, reproducing its every convention so the numbers agree to float precision:

1. Canny edges (skimage.feature.canny defaults on a 0-255 float image: Gaussian sigma 1 with
   constant-border renormalisation, Sobel, bilinear non-maximum suppression, hysteresis with
   the absolute thresholds 0.1 (passed through a C float) and 0.2) decide which 64x64 blocks
   are edge blocks (more than 0.2% edge pixels); only whole blocks count.
2. Octave-style Sobel edges (vertical gradient, squared magnitude above 2*sqrt(mean), thinned).
3. Marziliano widths on rows, for edges whose gradient angle quantises to 0 or +-180 degrees
   (np.gradient angles; 0 wherever the x gradient is exactly 0 — the reference's quirk), up to
   101 pixels each side: run lengths of same-signed horizontal differences.
4. Per edge block: JNB width 5 if contrast (int(max - min)) <= 50 else 3;
   P_blur = 1 - exp(-|w / w_JNB|^3.6); CPBD = fraction of edges with round(100 P_blur) <= 63.

Input: grayscale on a 0-255 scale. RGB frames are converted as PIL's "L" mode does (BT.601 integer
luma), as the `cpbd` package's command line reads images; the agreement to ~1e-6 holds for that same
grey input. Converted with skimage's rgb2gray (BT.709) instead, CPBD moves by a few hundredths on the
same frame: that convention is the named variant `cpbd-bt709`, whose grey is rounded to integers as a
grey image file holds it (skimage's img_as_ubyte(rgb2gray(rgb))): the package's command line only ever
reads integer grey, and the unrounded float moved CPBD by up to ~0.04 against it on photos.

The steps are written in numpy here; where numba loads, the per-pixel ones run as compiled loops
(metrics/cpbd_kernels.py) that give the same bits, ~3.5x faster in all (`bench speed cpbd`: 30x the
package single-threaded, 8x with numpy alone).
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np
from scipy import ndimage as ndi

from metrics.base import ClipValue, Metric
from metrics.compiled import use_kernels
from metrics.context import ClipContext
from metrics.cpbd_conventions import (
    BETA,
    BLOCK,
    BT709_WEIGHTS,
    CANNY_HIGH,
    CANNY_LOW,
    EDGE_BLOCK_FRACTION,
    JNB_CONTRAST,
    JNB_HIGH_CONTRAST_WIDTH,
    JNB_LOW_CONTRAST_WIDTH,
    MAX_MARGIN,
    SHARP_BUCKETS,
)


def rgb_to_luma(frames: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """(..., H, W, 3) uint8 RGB -> float64 grey levels exactly as PIL's convert("L") (ITU-R 601-2)."""
    kernels = _kernels(compiled) if frames.ndim >= 3 and frames.dtype == np.uint8 else None
    if kernels is not None:
        stack = np.ascontiguousarray(frames).reshape((-1,) + frames.shape[-3:])
        return kernels.luma(stack).reshape(frames.shape[:-1])
    rgb = frames.astype(np.uint32)
    return ((rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16).astype(np.float64)


def rgb_to_bt709(frames: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> float64 grey levels bit-identical to 255 * skimage.color.rgb2gray (ITU-R 709
    weights, unrounded). Bit-identical matters: a 1e-13 difference can flip an edge decision (~1e-4 in CPBD)."""
    return ((frames.astype(np.float64) * (1 / 255)) @ np.array(BT709_WEIGHTS)) * 255


def rgb_to_bt709_uint8(frames: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> float64 integer grey levels: skimage.util.img_as_ubyte(rgb2gray(rgb)), i.e.
    255 * rgb2gray rounded half to even (np.rint), what a grey image file written from it holds. The
    `cpbd` package agrees with the harness bit for bit on that grey; fed the unrounded float it does not."""
    return np.clip(np.rint(rgb_to_bt709(frames)), 0, 255)


# the `color` parameter of a CPBD variant -> its RGB-to-grey conversion (the CUDA path converts with the
# same function before moving the grey to the device, so both round alike). The unrounded
# "skimage-rgb2gray-bt709" of earlier runs is gone on purpose: its columns are not this variant's numbers
GREY_CONVERSIONS = {"pil-L-luma": rgb_to_luma, "skimage-rgb2gray-bt709-uint8": rgb_to_bt709_uint8}


def _kernels(compiled: bool | None = None):
    """metrics/cpbd_kernels.py where it is to run (see metrics.compiled.use_kernels), else None: numpy."""
    return use_kernels("metrics.cpbd_kernels", compiled, "CPBD")


# ---- step 1: Canny, batched over axis 0 --------------------------------------------------------


def _in_plane_sobel(images: np.ndarray, axis: int) -> np.ndarray:
    """scipy.ndimage.sobel on each 2-D slice (derivative along `axis`, then smoothing along the other)."""
    other = 2 if axis == 1 else 1
    out = ndi.correlate1d(images, [-1, 0, 1], axis=axis, mode="reflect")
    return ndi.correlate1d(out, [1, 2, 1], axis=other, mode="reflect")


def _nonmaximum_suppression(isobel, jsobel, magnitude, low):
    """skimage's bilinear non-maximum suppression, vectorised; returns the kept magnitudes.

    skimage's four sign/ratio cases share structure: the diagonal neighbours depend only on
    whether the two gradients have the same sign, the axial ones also on which is larger.
    Border pixels are never kept (skimage's eroded mask), so only the interior is computed.
    """
    n, h, w = magnitude.shape
    inner = (slice(None), slice(1, h - 1), slice(1, w - 1))
    m, gi, gj = magnitude[inner], isobel[inner], jsobel[inner]

    def at(dx, dy):
        return magnitude[:, 1 + dx : h - 1 + dx, 1 + dy : w - 1 + dy]

    abs_i, abs_j = np.abs(gi), np.abs(gj)
    same_sign = (gi <= 0) == (gj <= 0)
    along_rows = np.where(same_sign, abs_i > abs_j, abs_i >= abs_j)  # interpolate between row neighbours
    with np.errstate(divide="ignore", invalid="ignore"):
        # skimage's abs_j / abs_i where along_rows (then abs_i >= abs_j), else abs_i / abs_j: both are the
        # smaller over the larger, the same division bit for bit, done once
        weight = np.minimum(abs_i, abs_j) / np.maximum(abs_i, abs_j)
    n11 = np.where(along_rows, np.where(same_sign, at(1, 0), at(-1, 0)), at(0, 1))
    n21 = np.where(along_rows, np.where(same_sign, at(-1, 0), at(1, 0)), at(0, -1))
    n12 = np.where(same_sign, at(1, 1), at(-1, 1))
    n22 = np.where(same_sign, at(-1, -1), at(1, -1))
    with np.errstate(invalid="ignore"):
        keep = (m >= low) & ((n12 * weight + n11 * (1.0 - weight)) <= m) & ((n22 * weight + n21 * (1.0 - weight)) <= m)
    out = np.zeros_like(magnitude)
    out[inner] = np.where(keep, m, 0.0)
    return out


@lru_cache(maxsize=8)
def _bleed_over(shape: tuple[int, int]) -> np.ndarray:
    """skimage's renormalisation for the zero border: the Gaussian of an all-ones image (+eps)."""
    ones = np.ones(shape)
    return ndi.gaussian_filter(ones, sigma=1.0, mode="constant", cval=0.0) + np.finfo(np.float64).eps


def canny_edges(gray: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """(N, H, W) float64 0-255 -> (N, H, W) bool, equal to skimage.feature.canny(image) per frame.

    `compiled`: Sobel + suppression in metrics/cpbd_kernels.py (same bits, ~3x faster); None = where numba imports.
    """
    smooth = ndi.gaussian_filter(gray, sigma=(0, 1.0, 1.0), mode="constant", cval=0.0)
    smooth /= _bleed_over(gray.shape[1:])[None]
    kernels = _kernels(compiled)
    if kernels is not None:
        classes = kernels.canny_candidates(smooth, CANNY_LOW, CANNY_HIGH)
        low_mask, strong = classes > 0, classes == 2
    else:
        jsobel = _in_plane_sobel(smooth, axis=2)
        isobel = _in_plane_sobel(smooth, axis=1)
        magnitude = isobel * isobel
        magnitude += jsobel * jsobel
        np.sqrt(magnitude, out=magnitude)
        kept = _nonmaximum_suppression(isobel, jsobel, magnitude, CANNY_LOW)
        low_mask, strong = kept > 0, kept >= CANNY_HIGH
    if np.array_equal(low_mask, strong):
        return low_mask  # every candidate already passes the high threshold: hysteresis keeps them all
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1] = True  # 8-connected within a frame, never across frames
    labels, count = ndi.label(low_mask, structure)
    if count == 0:
        return low_mask
    good = np.zeros(count + 1, dtype=bool)
    good[np.unique(labels[strong])] = True
    good[0] = False
    return good[labels]


# ---- step 2: Octave-style Sobel edges -------------------------------------------------------------


def octave_sobel_edges(gray: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """(N, H, W) -> bool: thinned vertical-gradient edges as the cpbd package computes them."""
    kernel = np.array([[1.0, 2.0, 1.0], [0.0, 0.0, 0.0], [-1.0, -2.0, -1.0]]) / 4.0
    kernel /= np.abs(kernel).sum()
    # separable form of convolve(image, kernel.T): on integer grey levels every partial sum is a
    # multiple of 1/8, so the result is bit-identical to the 2-D convolution, and faster. Non-integer
    # grey (an unrounded conversion) rounds differently in that order, flipping ties in the thinning:
    # there the reference's own 2-D convolution is used
    assert np.array_equal(np.outer([1, 2, 1], [1, 0, -1]) / 8, kernel.T)
    integer_grey = np.array_equal(gray, np.round(gray))
    kernels = _kernels(compiled)
    if integer_grey and kernels is not None:
        gradient = kernels.octave_gradient(np.ascontiguousarray(gray))
    elif integer_grey:
        gradient = ndi.correlate1d(
            ndi.correlate1d(gray, [-1.0, 0.0, 1.0], axis=2, mode="reflect"),
            [0.125, 0.25, 0.125],
            axis=1,
            mode="reflect",
        )
    else:
        gradient = ndi.convolve(gray, kernel.T[None], mode="reflect")
    strength = np.square(gradient)
    threshold = np.array([2 * np.sqrt(np.mean(s)) for s in strength])  # per frame, the reference's order
    if kernels is not None:
        return kernels.thin_edges(strength, threshold)
    strength[strength <= threshold[:, None, None]] = 0
    # thinning: strictly above both horizontal or both vertical neighbours (zeros beyond the border)
    positive = strength > 0
    x = positive.copy()
    x[:, :, 1:] &= strength[:, :, 1:] > strength[:, :, :-1]
    x[:, :, :-1] &= strength[:, :, :-1] > strength[:, :, 1:]
    y = positive
    y[:, 1:] &= strength[:, 1:] > strength[:, :-1]
    y[:, :-1] &= strength[:, :-1] > strength[:, 1:]
    return x | y


# ---- step 3: Marziliano edge widths --------------------------------------------------------------


def _run_lengths(breaks: np.ndarray, shape, frames, rows, starts, leftward: bool) -> np.ndarray:
    """Length of the run of True that starts at (frame, row, start) of a boolean (N, H, K) array
    and extends leftwards (towards index 0) or rightwards; 0 where `start` is outside [0, K).
    `breaks` are the flat positions of False in that array padded by one False column each side."""
    n, h, k = shape
    inside = (starts >= 0) & (starts < k)
    position = (frames * h + rows) * (k + 2) + np.clip(starts, -1, k) + 1
    if leftward:
        runs = position - breaks[np.searchsorted(breaks, position, side="right") - 1]
    else:
        runs = breaks[np.searchsorted(breaks, position, side="left")] - position
    return np.where(inside, runs, 0)


def marziliano_widths(gray: np.ndarray, edges: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """(N, H, W) edge widths (0 where no edge is measured), as the reference's row-wise search.

    Computed only at the (sparse) edge pixels: the search to each side stops where the
    horizontal intensity step changes sign, so a width is two run lengths of same-signed steps.
    `compiled`: the gradient test and the row walks in metrics/cpbd_kernels.py (same bits).
    """
    n, h, w = gray.shape
    kernels = _kernels(compiled)
    widths = np.zeros_like(gray)
    # the reference's angle is 0 where grad_x == 0, and atan2 is 0 where grad_y == 0 < grad_x;
    # it measures nothing in a frame whose angles are all 0 (its `if np.any(edge_angles)`)
    if kernels is not None:
        f, r, c, gx, gy = kernels.edge_gradients(gray, edges, kernels.any_nonzero_angle(gray))
    else:
        grad_y, grad_x = np.gradient(gray, axis=(1, 2))
        any_angle = np.any((grad_x != 0) & ((grad_y != 0) | (grad_x < 0)), axis=(1, 2))
        select = edges & any_angle[:, None, None]
        select[:, [0, -1], :] = False  # border pixels are never measured
        select[:, :, [0, -1]] = False
        f, r, c = np.nonzero(select)
        gx, gy = grad_x[f, r, c], grad_y[f, r, c]
    angle = np.where(gx != 0, np.arctan2(gy, gx) * (180 / np.pi), 0.0)
    quantised = 45 * np.round(angle / 45)
    if kernels is not None:
        chosen = (quantised == 0) | (np.abs(quantised) == 180)
        widths[f[chosen], r[chosen], c[chosen]] = kernels.walk_widths(
            gray, f[chosen], r[chosen], c[chosen], quantised[chosen] == 0, MAX_MARGIN
        )
        return widths
    step = np.diff(gray, axis=2)  # step[..., k] = I[k + 1] - I[k]
    for rising, chosen in ((True, quantised == 0), (False, np.abs(quantised) == 180)):
        if not chosen.any():
            continue
        monotone = step > 0 if rising else step < 0
        breaks = np.flatnonzero(~np.pad(monotone, ((0, 0), (0, 0), (1, 1))))  # every row fenced by breaks
        fi, ri, ci = f[chosen], r[chosen], c[chosen]
        left = _run_lengths(breaks, monotone.shape, fi, ri, ci - 2, leftward=True)  # steps ending at col - 2
        right = _run_lengths(breaks, monotone.shape, fi, ri, ci + 1, leftward=False)  # steps starting at col + 1
        widths[fi, ri, ci] = np.minimum(left, MAX_MARGIN) + 1 + np.minimum(right, MAX_MARGIN) + 1
    return widths


# ---- step 4: pooling ---------------------------------------------------------------------------------


def _p_blur(width: np.ndarray, jnb: np.ndarray) -> np.ndarray:
    return 1 - np.exp(-(np.abs(width / jnb) ** BETA))


@lru_cache(maxsize=1)
def _sharp_table() -> np.ndarray:
    """(2, max width + 1) bool: is an edge of each integer width sharp, under JNB width 5 (row 0) and 3 (row 1)?
    Widths are integers up to 2 * MAX_MARGIN + 2, so the pooled decision is a lookup of the same numpy values."""
    width = np.arange(2 * MAX_MARGIN + 3, dtype=np.float64)
    return np.stack(
        [
            np.round(_p_blur(width, np.full_like(width, jnb)) * 100) < SHARP_BUCKETS
            for jnb in (JNB_LOW_CONTRAST_WIDTH, JNB_HIGH_CONTRAST_WIDTH)
        ]
    )


def sharp_edge_counts(
    gray: np.ndarray, canny: np.ndarray, widths: np.ndarray, compiled: bool | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: (edges judged sharp, edges measured) over whole 64x64 edge blocks."""
    n, h, w = gray.shape
    kernels = _kernels(compiled)
    if kernels is not None:
        min_edge_pixels = int(np.floor(BLOCK * BLOCK * EDGE_BLOCK_FRACTION)) + 1  # "more than 0.2%"
        return kernels.block_counts(gray, canny, widths, _sharp_table(), BLOCK, min_edge_pixels, JNB_CONTRAST)
    bh, bw = h // BLOCK, w // BLOCK

    def blocks(a):
        return a[:, : bh * BLOCK, : bw * BLOCK].reshape(n, bh, BLOCK, bw, BLOCK)

    edge_block = blocks(canny).sum(axis=(2, 4)) > BLOCK * BLOCK * EDGE_BLOCK_FRACTION
    g = blocks(gray)
    contrast = (g.max(axis=(2, 4)) - g.min(axis=(2, 4))).astype(np.int64)
    jnb = np.where(contrast <= JNB_CONTRAST, JNB_LOW_CONTRAST_WIDTH, JNB_HIGH_CONTRAST_WIDTH)
    wb = blocks(widths)
    f, bi, _, bj, _ = np.nonzero((wb != 0) & edge_block[:, :, None, :, None])
    width = wb[(wb != 0) & edge_block[:, :, None, :, None]]
    p_blur = _p_blur(width, jnb[f, bi, bj])
    sharp = np.round(p_blur * 100) < SHARP_BUCKETS
    return np.bincount(f, weights=sharp, minlength=n), np.bincount(f, minlength=n)


def cpbd_frames(gray: np.ndarray, compiled: bool | None = None) -> np.ndarray:
    """(N, H, W) grey levels 0-255 -> (N,) CPBD per frame (0 where no edge was measured).

    `compiled`: the per-pixel steps in numba loops (metrics/cpbd_kernels.py, same bits); False: numpy
    alone; None: numba where it imports."""
    gray = np.ascontiguousarray(gray, dtype=np.float64)
    if gray.ndim == 2:
        gray = gray[None]
    widths = marziliano_widths(gray, octave_sobel_edges(gray, compiled), compiled)
    sharp, total = sharp_edge_counts(gray, canny_edges(gray, compiled), widths, compiled)
    return np.where(total > 0, sharp / np.maximum(total, 1), 0.0)


class CPBD(Metric):
    name = "cpbd"
    # ground truth is not the sharpest video: a generated video sharper (or blurrier) than the real one is not better
    direction = "closest-to-ground-truth"
    backend = (
        "exact re-implementation of cpbd 1.0.7: numpy + numba loops on CPU (numpy alone without numba), torch on CUDA"
    )

    description = (
        "Cumulative probability of blur detection (no-reference sharpness) of the generated frames, mean over frames"
    )
    default_params = {
        "color": "pil-L-luma",
        "block": BLOCK,
        "edge_block_fraction": EDGE_BLOCK_FRACTION,
        "beta": BETA,
        "sharp_buckets": "[0,64)",
        "reduction": "mean-over-frames",
    }
    variants = {"cpbd-bt709": {"color": "skimage-rgb2gray-bt709-uint8"}}
    features = ("frames",)  # the generated frames only: no reference

    @classmethod
    def backend_for(cls, settings, params) -> str:
        if str(settings.device).split(":")[0] == "cuda":
            return "torch-cuda-cpbd-1.0.7"
        return "numba-exact-cpbd-1.0.7" if _kernels(None) is not None else "numpy-exact-cpbd-1.0.7"

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        to_grey, frames = GREY_CONVERSIONS[self.params["color"]], ctx.feature("frames", "generated")
        if self.device.type == "cuda":
            import torch

            from metrics.cpbd_torch import cpbd_frames_torch

            gray = torch.from_numpy(to_grey(frames)).to(self.device)
            return ClipValue(float(cpbd_frames_torch(gray).mean()))
        return ClipValue(float(cpbd_video(frames, to_grey=to_grey).mean()))


CHUNK_FRAMES = 4  # small chunks stay in cache: faster than big batches on CPU


def cpbd_video(
    frames: np.ndarray, workers: int | None = None, to_grey=rgb_to_luma, compiled: bool | None = None
) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T,) CPBD, chunks spread over threads (numpy, scipy and the
    compiled loops release the GIL). `compiled`: as cpbd_frames'."""
    from concurrent.futures import ThreadPoolExecutor

    chunks = [frames[i : i + CHUNK_FRAMES] for i in range(0, len(frames), CHUNK_FRAMES)]
    workers = workers or min(len(chunks), os.cpu_count() or 1)

    def one(chunk):
        return cpbd_frames(to_grey(chunk), compiled)

    if workers <= 1:
        return np.concatenate([one(c) for c in chunks])
    with ThreadPoolExecutor(workers) as pool:
        return np.concatenate(list(pool.map(one, chunks)))
