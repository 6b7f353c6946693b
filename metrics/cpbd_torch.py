"""CPBD in batched torch (float64) for GPUs: the same algorithm as metrics.cpbd, step for step.

1-D filters replay scipy.ndimage's accumulation order (centre tap first, then the outer pairs
summed before multiplying), so results match the numpy path bit for bit on CPU; on CUDA, atan2
and pow may differ in the last ulp, which can only matter at exact rounding boundaries.
Hysteresis is an iterative 8-connected propagation instead of labelling: the same edge set.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from metrics.cpbd_conventions import (
    BETA,
    BLOCK,
    CANNY_HIGH,
    CANNY_LOW,
    EDGE_BLOCK_FRACTION,
    JNB_CONTRAST,
    JNB_HIGH_CONTRAST_WIDTH,
    JNB_LOW_CONTRAST_WIDTH,
    MAX_MARGIN,
    SHARP_BUCKETS,
)


def _gaussian_weights(sigma: float = 1.0, truncate: float = 4.0) -> np.ndarray:
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    w = np.exp(-0.5 / sigma**2 * x**2)
    return w / w.sum()


def _shifted(x: torch.Tensor, axis: int, offset: int, pad: int) -> torch.Tensor:
    """x[i + offset] along `axis` of an already padded tensor (pad entries on each side)."""
    n = x.shape[axis] - 2 * pad
    return x.narrow(axis, pad + offset, n)


def _pad(x: torch.Tensor, axis: int, width: int, mode: str) -> torch.Tensor:
    if mode == "constant":
        shape = list(x.shape)
        shape[axis] = width
        zeros = x.new_zeros(shape)
        return torch.cat([zeros, x, zeros], axis)
    # scipy "reflect" (half-sample symmetric): for width 1 it repeats the edge
    assert width == 1
    return torch.cat([x.narrow(axis, 0, 1), x, x.narrow(axis, x.shape[axis] - 1, 1)], axis)


def correlate1d(x: torch.Tensor, weights, axis: int, mode: str) -> torch.Tensor:
    """scipy.ndimage.correlate1d for odd symmetric or antisymmetric kernels, same arithmetic order."""
    w = [float(v) for v in weights]
    r = len(w) // 2
    centre = w[r]
    symmetric = all(w[r + k] == w[r - k] for k in range(1, r + 1))
    antisymmetric = all(w[r + k] == -w[r - k] for k in range(1, r + 1))
    assert symmetric or antisymmetric
    p = _pad(x, axis, r, mode)
    out = _shifted(p, axis, 0, r) * centre
    for k in range(r, 0, -1):  # scipy: jj = -size1 .. -1, outermost pair first
        a, b = _shifted(p, axis, -k, r), _shifted(p, axis, k, r)
        out = out + ((a + b) if symmetric else (a - b)) * w[r - k]
    return out


def canny_edges_torch(gray: torch.Tensor) -> torch.Tensor:
    g = _gaussian_weights()
    smooth = correlate1d(correlate1d(gray, g, 1, "constant"), g, 2, "constant")
    ones = torch.ones_like(gray[:1])
    bleed = correlate1d(correlate1d(ones, g, 1, "constant"), g, 2, "constant") + np.finfo(np.float64).eps
    smooth = smooth / bleed
    jsobel = correlate1d(correlate1d(smooth, [-1, 0, 1], 2, "reflect"), [1, 2, 1], 1, "reflect")
    isobel = correlate1d(correlate1d(smooth, [-1, 0, 1], 1, "reflect"), [1, 2, 1], 2, "reflect")
    magnitude = torch.sqrt(isobel * isobel + jsobel * jsobel)
    h, w = magnitude.shape[1:]
    inner = (slice(None), slice(1, h - 1), slice(1, w - 1))
    m, gi, gj = magnitude[inner], isobel[inner], jsobel[inner]

    def at(dx, dy):
        return magnitude[:, 1 + dx : h - 1 + dx, 1 + dy : w - 1 + dy]

    abs_i, abs_j = gi.abs(), gj.abs()
    same = (gi <= 0) == (gj <= 0)
    rows = torch.where(same, abs_i > abs_j, ~(abs_i < abs_j))
    weight = torch.where(rows, abs_j / abs_i, abs_i / abs_j)
    n11 = torch.where(rows, torch.where(same, at(1, 0), at(-1, 0)), at(0, 1))
    n21 = torch.where(rows, torch.where(same, at(-1, 0), at(1, 0)), at(0, -1))
    n12 = torch.where(same, at(1, 1), at(-1, 1))
    n22 = torch.where(same, at(-1, -1), at(1, -1))
    keep = (
        (m >= CANNY_LOW) & ((n12 * weight + n11 * (1.0 - weight)) <= m) & ((n22 * weight + n21 * (1.0 - weight)) <= m)
    )
    kept = torch.zeros_like(magnitude)
    kept[inner] = torch.where(keep, m, torch.zeros_like(m))
    low = kept > 0
    edges = low & (kept >= CANNY_HIGH)
    if torch.equal(edges, low):
        return low
    while True:  # grow strong edges through 8-connected weak ones until nothing changes
        grown = low & (F.max_pool2d(edges[:, None].double(), 3, stride=1, padding=1)[:, 0] > 0)
        if torch.equal(grown, edges):
            return edges
        edges = grown


# scipy.ndimage.convolve(image, sobel.T) as scipy sums it: the nonzero taps of the flipped kernel in C order
_SOBEL_TAPS = ((-1, -1, -0.125), (-1, 1, 0.125), (0, -1, -0.25), (0, 1, 0.25), (1, -1, -0.125), (1, 1, 0.125))


def _sobel_2d(gray: torch.Tensor) -> torch.Tensor:
    """The reference's 2-D vertical-gradient convolution, same order: exact on non-integer grey too."""
    p = _pad(_pad(gray, 1, 1, "reflect"), 2, 1, "reflect")
    out = torch.zeros_like(gray)
    for dy, dx, weight in _SOBEL_TAPS:
        out = out + _shifted(_shifted(p, 1, dy, 1), 2, dx, 1) * weight
    return out


def octave_sobel_edges_torch(gray: torch.Tensor) -> torch.Tensor:
    # separable on integer grey (every partial sum a multiple of 1/8: exact), else the 2-D order
    if bool(torch.equal(gray, torch.round(gray))):
        gradient = correlate1d(correlate1d(gray, [-1.0, 0.0, 1.0], 2, "reflect"), [0.125, 0.25, 0.125], 1, "reflect")
    else:
        gradient = _sobel_2d(gray)
    strength = gradient * gradient
    threshold = 2 * torch.sqrt(strength.mean(dim=(1, 2)))
    strength = torch.where(strength <= threshold[:, None, None], torch.zeros_like(strength), strength)
    positive = strength > 0
    x = positive.clone()
    x[:, :, 1:] &= strength[:, :, 1:] > strength[:, :, :-1]
    x[:, :, :-1] &= strength[:, :, :-1] > strength[:, :, 1:]
    y = positive.clone()
    y[:, 1:] &= strength[:, 1:] > strength[:, :-1]
    y[:, :-1] &= strength[:, :-1] > strength[:, 1:]
    return x | y


def _runs_ending_at(flags: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(flags.shape[-1], device=flags.device).expand_as(flags)
    last_false = torch.cummax(torch.where(flags, torch.full_like(idx, -1), idx), dim=-1).values
    return torch.where(flags, idx - last_false, torch.zeros_like(idx))


def marziliano_widths_torch(gray: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
    n, h, w = gray.shape
    grad_y, grad_x = torch.gradient(gray, dim=(1, 2))
    angles = torch.where(grad_x != 0, torch.atan2(grad_y, grad_x) * (180 / np.pi), torch.zeros_like(grad_x))
    quantised = 45 * torch.round(angles / 45)
    step = gray[:, :, 1:] - gray[:, :, :-1]
    widths = torch.zeros_like(gray)
    interior = torch.zeros(h, w, dtype=torch.bool, device=gray.device)
    interior[1:-1, 1:-1] = True
    measured = edges & interior & (angles != 0).any(dim=(1, 2))[:, None, None]
    zeros = torch.zeros(n, h, 3, dtype=torch.long, device=gray.device)
    for rising, chosen in ((True, quantised == 0), (False, quantised.abs() == 180)):
        monotone = step > 0 if rising else step < 0
        left_run = _runs_ending_at(monotone)
        right_run = _runs_ending_at(monotone.flip(-1)).flip(-1)
        left = torch.cat([zeros[..., :2], left_run, zeros[..., :1]], 2)[..., :w]  # run ending at col - 2
        right = torch.cat([right_run[..., 1:], zeros], 2)[..., :w]  # run starting at col + 1
        width = (left.clamp(max=MAX_MARGIN) + 1 + right.clamp(max=MAX_MARGIN) + 1).to(gray.dtype)
        widths = torch.where(measured & chosen, width, widths)
    return widths


def cpbd_frames_torch(gray: torch.Tensor) -> torch.Tensor:
    """(N, H, W) grey levels 0-255 (any device) -> (N,) CPBD, float64."""
    gray = gray.to(torch.float64)
    widths = marziliano_widths_torch(gray, octave_sobel_edges_torch(gray))
    canny = canny_edges_torch(gray)
    n, h, w = gray.shape
    bh, bw = h // BLOCK, w // BLOCK

    def blocks(a):
        return a[:, : bh * BLOCK, : bw * BLOCK].reshape(n, bh, BLOCK, bw, BLOCK)

    edge_block = blocks(canny).sum(dim=(2, 4)) > BLOCK * BLOCK * EDGE_BLOCK_FRACTION
    g = blocks(gray)
    contrast = (g.amax(dim=(2, 4)) - g.amin(dim=(2, 4))).long()
    jnb = torch.where(contrast <= JNB_CONTRAST, JNB_LOW_CONTRAST_WIDTH, JNB_HIGH_CONTRAST_WIDTH).to(gray.dtype)
    wb = blocks(widths)
    measured = (wb != 0) & edge_block[:, :, None, :, None]
    p_blur = 1 - torch.exp(-(torch.abs(wb / jnb[:, :, None, :, None]) ** BETA))
    sharp = measured & (torch.round(p_blur * 100) < SHARP_BUCKETS)
    total = measured.sum(dim=(1, 2, 3, 4)).to(torch.float64)
    return torch.where(
        total > 0, sharp.sum(dim=(1, 2, 3, 4)).to(torch.float64) / total.clamp(min=1), torch.zeros_like(total)
    )
