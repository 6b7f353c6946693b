"""SSIM (Wang et al. 2004): Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, L 255, mean over RGB.

Equal to skimage `structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1)`: skimage filters with reflect
padding and then discards a 5-pixel border, which is exactly a 'valid' convolution.
The thesis' C1=0.0001, C2=0.0003 read as a typo for (0.01)^2, (0.03)^2; we use the standard ones.
"""

from __future__ import annotations

import torch

from metrics.context import ClipContext
from metrics.base import ClipValue, Metric, frame_chunks, frames_to_tensor


def gaussian_kernel_1d(sigma: float, truncate: float, dtype, device) -> torch.Tensor:
    """scipy.ndimage's kernel: radius int(truncate * sigma + 0.5), normalised to sum 1."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def valid_blur_matrix(size: int, kernel: torch.Tensor) -> torch.Tensor:
    """(size, size - 2r) banded matrix M with (x @ M) = 'valid' 1-D correlation of x with `kernel`."""
    taps = kernel.numel()
    out = size - taps + 1
    m = torch.zeros(size, out, dtype=kernel.dtype, device=kernel.device)
    cols = torch.arange(out, device=kernel.device)
    for t in range(taps):
        m[cols + t, cols] = kernel[t]
    return m


def ssim_per_frame(
    x: torch.Tensor, y: torch.Tensor, data_range: float, sigma: float = 1.5, truncate: float = 3.5,
    k1: float = 0.01, k2: float = 0.03,
) -> torch.Tensor:
    """(T, C, H, W) float -> (T,) SSIM, averaged over the valid region and the channels.

    The Gaussian blur is two banded matrix products: exact in float64 and far faster on CPU
    than a float64 convolution.
    """
    k = gaussian_kernel_1d(sigma, truncate, x.dtype, x.device)
    blur_w = valid_blur_matrix(x.shape[-1], k)
    blur_h = valid_blur_matrix(x.shape[-2], k)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return blur_h.T @ (t @ blur_w)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(2).mean(dim=2).mean(dim=1)


class SSIM(Metric):
    name = "ssim"
    direction = "higher"
    description = "Structural similarity, Gaussian 11x11 window (sigma 1.5), per RGB frame, mean over frames"
    default_params = {"data_range": 255.0, "window": "gaussian", "sigma": 1.5, "truncate": 3.5,
                      "k1": 0.01, "k2": 0.03, "color": "rgb", "reduction": "mean-over-frames"}

    chunk_frames = 16

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated, reference = ctx.generated, ctx.reference
        p = self.params
        values = []
        for part in frame_chunks(generated.n_frames, self.chunk_frames):
            g = frames_to_tensor(generated.frames[part], self.device)
            r = frames_to_tensor(reference[part], self.device)
            values.append(ssim_per_frame(g, r, p["data_range"], p["sigma"], p["truncate"], p["k1"], p["k2"]))
        return ClipValue(float(torch.cat(values).mean()))
