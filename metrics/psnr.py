"""PSNR (thesis eq. 5.1-5.2): per frame over RGB, data range 255, mean over frames.

uint8 frames give an integer sum of squared errors, computed exactly in int64 (a numba loop on CPU,
numpy where numba does not load, int32 differences on the device otherwise): the same number a
float64 mean gives (every partial sum is an integer below 2^53), in any summation order.
"""

from __future__ import annotations

import numpy as np
import torch

from metrics.context import ClipContext
from metrics.base import ClipValue, Metric, frame_chunks
from metrics.compiled import use_kernels


def squared_errors(
    generated: np.ndarray, reference: np.ndarray, device: str = "cpu", compiled: bool | None = None
) -> np.ndarray:
    """(T, H, W, C) pairs -> (T,) int64 sum of squared differences per frame, exact for uint8.
    `compiled`: the numba loop of metrics/psnr_kernels.py on CPU uint8 (None: where numba loads)."""
    if str(device) == "cpu":
        kernels = use_kernels("metrics.psnr_kernels", compiled, "PSNR") if _both_uint8(generated, reference) else None
        if kernels is not None:
            n_frames = len(generated)
            return kernels.squared_error_sums(
                np.ascontiguousarray(generated).reshape(n_frames, -1),
                np.ascontiguousarray(reference).reshape(n_frames, -1),
            )
        diff = generated.astype(np.int16) - reference
        return np.einsum("thwc,thwc->t", diff, diff, dtype=np.int64)
    g = torch.from_numpy(np.ascontiguousarray(generated)).to(device).to(torch.int32)
    diff = g - torch.from_numpy(np.ascontiguousarray(reference)).to(device).to(torch.int32)
    return diff.mul_(diff).flatten(1).sum(1, dtype=torch.int64).cpu().numpy()


def _both_uint8(generated: np.ndarray, reference: np.ndarray) -> bool:
    return generated.dtype == np.uint8 and reference.dtype == np.uint8 and generated.shape == reference.shape


def psnr_from_squared_errors(sse: np.ndarray, n_values: int, data_range: float, cap_db: float) -> np.ndarray:
    """(T,) dB from exact sums of squared errors; identical frames give `cap_db`, never inf."""
    mse = sse.astype(np.float64) / n_values
    with np.errstate(divide="ignore"):
        psnr = 10.0 * np.log10(data_range**2 / mse)
    return np.where(sse == 0, cap_db, np.minimum(psnr, cap_db))


def psnr_frames(
    generated: np.ndarray, reference: np.ndarray, data_range: float = 255.0, cap_db: float = 100.0, device: str = "cpu"
) -> np.ndarray:
    """(T, H, W, C) uint8 pairs (or one (H, W, C) pair) -> (T,) dB per frame, as the metric computes them."""
    generated, reference = np.asarray(generated), np.asarray(reference)
    if generated.ndim == 3:
        generated, reference = generated[None], reference[None]
    sse = squared_errors(generated, reference, device)
    return psnr_from_squared_errors(sse, generated[0].size, data_range, cap_db)


class PSNR(Metric):
    name = "psnr"
    direction = "higher"
    unit = "dB"
    description = "Peak signal-to-noise ratio per RGB frame (MSE over C*H*W, range 255), mean over frames"
    default_params = {"data_range": 255.0, "color": "rgb", "cap_db": 100.0, "reduction": "mean-over-frames"}
    features = ("frames",)

    chunk_frames = 32

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated, reference = ctx.feature("frames", "generated"), ctx.feature("frames", "reference")
        values = []
        for part in frame_chunks(len(generated), self.chunk_frames):
            values.append(
                psnr_frames(
                    generated[part], reference[part], self.params["data_range"], self.params["cap_db"], self.device
                )
            )
        per_frame = np.concatenate(values)
        capped = int((per_frame >= self.params["cap_db"]).sum())
        return ClipValue(float(per_frame.mean()), extras={"frames_at_cap": capped})
