"""SSIM (Wang et al. 2004): Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03, L 255, mean over RGB.

Equal to skimage `structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255, channel_axis=-1)`: skimage filters with reflect
padding and then discards a 5-pixel border, which is exactly a 'valid' convolution.
Computed in float32 (within 2e-5 of float64 in the worst case; the calibration tolerance is 1e-4).
The thesis' C1=0.0001, C2=0.0003 read as a typo for (0.01)^2, (0.03)^2; we use the standard ones.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from benchmark.core.heap import release_free_memory
from metrics.base import ClipValue, Metric, frame_chunks, frames_to_tensor
from metrics.context import ClipContext


def gaussian_kernel_1d(sigma: float, truncate: float, dtype, device) -> torch.Tensor:
    """scipy.ndimage's kernel: radius int(truncate * sigma + 0.5), normalised to sum 1."""
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=dtype, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def ssim_per_frame(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float,
    sigma: float = 1.5,
    truncate: float = 3.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> torch.Tensor:
    """(T, C, H, W) float -> (T,) SSIM, averaged over the valid region and the channels.

    The five maps (x, y, x², y², xy) of every channel are laid out as the channels of one
    channels-last image and blurred by two depthwise 'valid' 1-D convolutions (one pass over
    memory each; ~1.7x faster on a CPU than the dense banded matrix products used before).
    In float32 (what the metric uses on a CPU) SSIM stays within ~1e-7 of float64 / skimage on
    natural frames and within 2e-5 on nearly flat, bright ones (the worst case for float32
    moments; tests/test_metrics_reference.py), inside the 1e-4 calibration tolerance.
    """
    k = gaussian_kernel_1d(sigma, truncate, torch.float64, x.device).to(x.dtype)
    # moments of the frames shifted to mid-range: E[x²] - E[x]² then cancels far less in float32
    shift = data_range / 2
    x, y = (x - shift).permute(0, 2, 3, 1), (y - shift).permute(0, 2, 3, 1)  # (T, H, W, C)
    maps = torch.cat([x, y, x * x, y * y, x * y], dim=-1).permute(0, 3, 1, 2)  # NCHW view, channels-last memory
    groups = maps.shape[1]
    along_w = k.view(1, 1, 1, -1).expand(groups, 1, 1, -1).contiguous()
    along_h = k.view(1, 1, -1, 1).expand(groups, 1, -1, 1).contiguous()
    blurred = F.conv2d(F.conv2d(maps, along_w, groups=groups), along_h, groups=groups)
    m_x, m_y, xx, yy, xy = blurred.contiguous().unflatten(1, (5, -1)).unbind(1)
    var_x, var_y, cov = xx - m_x * m_x, yy - m_y * m_y, xy - m_x * m_y
    mu_x, mu_y = m_x + shift, m_y + shift
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(2).mean(dim=2, dtype=torch.float64).mean(dim=1)


class SSIM(Metric):
    name = "ssim"
    direction = "higher"
    description = "Structural similarity, Gaussian 11x11 window (sigma 1.5), per RGB frame, mean over frames"
    default_params = {
        "data_range": 255.0,
        "window": "gaussian",
        "sigma": 1.5,
        "truncate": 3.5,
        "k1": 0.01,
        "k2": 0.03,
        "color": "rgb",
        "reduction": "mean-over-frames",
    }
    features = ("frames",)

    # each chunk's float32 temporaries (the five maps, their blurs, the SSIM map's terms) are ~15 MB
    # per 256² frame: 4 frames keep them under 100 MB (16 frames: +1.1 GB peak RSS on a 1000-frame clip)
    chunk_frames = 4
    trim_every = 16  # chunks between returning freed memory: each trim costs the next chunk its page faults

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated, reference = ctx.feature("frames", "generated"), ctx.feature("frames", "reference")
        p = self.params
        values = []
        # float32 on CPU; on CUDA, cuDNN may run float32 convolutions as TF32 (10-bit mantissa; torch allows
        # it by default), which would move SSIM by ~1e-3: float64 there
        dtype = torch.float32 if str(self.device) == "cpu" else torch.float64
        for i, part in enumerate(frame_chunks(len(generated), self.chunk_frames)):
            g = frames_to_tensor(generated[part], self.device, dtype)
            r = frames_to_tensor(reference[part], self.device, dtype)
            values.append(ssim_per_frame(g, r, p["data_range"], p["sigma"], p["truncate"], p["k1"], p["k2"]))
            if i % self.trim_every == self.trim_every - 1:
                release_free_memory()  # else the chunks' freed temporaries pile up on a long clip
        return ClipValue(float(torch.cat(values).mean()))
