"""MoCoGAN-HD's motion generator (snap-research/MoCoGAN-HD `RNNModule`) in its checkpoint layout.

It walks a trajectory in the StyleGAN2 W space: an LSTMCell initialised from w₀, driven by
i.i.d. N(0, I) noise, whose output is mapped by tanh(h·w + b) to coefficients on the top PCA
directions of W (scaled by their standard deviations). Audio plays no part.
"""

from __future__ import annotations

import torch
from torch import nn


class MotionGenerator(nn.Module):
    def __init__(self, z_dim: int = 512, h_dim: int = 384, w_residual: float = 0.2):
        super().__init__()
        self.z_dim, self.h_dim, self.w_residual = z_dim, h_dim, w_residual
        self.enc_cell = nn.LSTMCell(z_dim, h_dim)
        self.cell = nn.LSTMCell(z_dim, h_dim)
        self.w = nn.Parameter(torch.randn(h_dim, h_dim) * 0.02)
        self.b = nn.Parameter(torch.zeros(h_dim))
        self.fc1 = nn.Linear(h_dim * 2, z_dim)  # reconstructs the noise during training only
        self.fc2 = nn.Linear(z_dim, z_dim)

    def trajectory(
        self, w0: torch.Tensor, n_frames: int, basis: torch.Tensor, generator: torch.Generator
    ) -> torch.Tensor:
        """(B, z_dim) start latents -> (B, n_frames, z_dim); frame 0 is w0 itself.

        basis: (h_dim, z_dim) = PCA components scaled by their standard deviations.
        `generator` seeds the driving noise on the CPU, so a seed gives the same motion on any device.
        """
        h, c = self.enc_cell(w0)
        out = [w0]
        for _ in range(n_frames - 1):
            e = torch.randn(w0.shape[0], self.z_dim, generator=generator).to(w0)
            h, c = self.cell(e, (h, c))
            m = torch.tanh(h @ self.w + self.b)
            out.append(out[-1] + self.w_residual * (m @ basis))
        return torch.stack(out, dim=1)


def pca_basis(components: torch.Tensor, stdev: torch.Tensor, h_dim: int) -> torch.Tensor:
    """The motion basis from `pca_comp.npy` (rows = components) and `pca_stdev.npy`."""
    return components[:h_dim] * stdev[:h_dim, None]
