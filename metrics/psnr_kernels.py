"""Compiled (numba) sum of squared differences for PSNR: the same integers as the numpy path.

numpy has no fused "difference, square, sum" for uint8, so it widens both frames to int16 and
multiplies in int64 through einsum, ~10x slower than one pass. Integer sums are exact in any order,
so this loop gives the numpy path's numbers bit for bit (tests/test_psnr_kernels.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def squared_error_sums(generated: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, N) uint8 pairs (frames flattened) -> (T,) int64 sums of squared differences."""
    n_frames, n_values = generated.shape
    sums = np.zeros(n_frames, np.int64)
    for t in range(n_frames):
        total = 0
        for i in range(n_values):
            d = np.int64(generated[t, i]) - np.int64(reference[t, i])
            total += d * d
        sums[t] = total
    return sums
