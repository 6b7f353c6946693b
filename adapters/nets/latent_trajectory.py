"""The trainable parts of the latent-trajectory model's second stage (thesis §4.3; Tables 4.3 and 4.4).

Audio encoder: a 12×28 MFCC window (280 ms at 100 Hz, c0 dropped) per video frame → CNN →
256-d, then a 3-layer LSTM over the frames → e_t. Latent decoder: [PCA coefficients of w_I,
e_t] → 512 → 512 → n_components (2500) → h_t; the displacement is h_t·V (eq. 4.3).
`width` scales the channels for the tiny test configuration (1.0 = the thesis).
"""

from __future__ import annotations

import torch
from torch import nn


class AudioEncoder(nn.Module):
    def __init__(self, width: float = 1.0, n_mfcc: int = 12, window: int = 28, embed: int = 256):
        super().__init__()
        c = lambda n: max(1, int(round(n * width)))  # noqa: E731
        self.cnn = nn.Sequential(
            nn.Conv2d(1, c(64), 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(c(64), c(128), 3, 1, 1),
            nn.ReLU(),
            nn.MaxPool2d(3, (1, 2)),
            nn.Conv2d(c(128), c(256), 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(c(256), c(256), 3, 1, 1),
            nn.ReLU(),
            nn.Conv2d(c(256), c(512), 3, 1, 1),
            nn.ReLU(),
            nn.MaxPool2d(3, 2),
        )
        h = ((n_mfcc - 2) - 3) // 2 + 1  # after the two poolings: 12 -> 10 -> 4
        w = (((window - 3) // 2 + 1) - 3) // 2 + 1  # 28 -> 13 -> 6
        self.fc = nn.Sequential(nn.Linear(c(512) * h * w, c(2048)), nn.ReLU(), nn.Linear(c(2048), embed), nn.ReLU())
        self.lstm = nn.LSTM(embed, embed, num_layers=3, batch_first=True)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """windows (B, T, 12, 28) -> (B, T, 256)."""
        b, t = windows.shape[:2]
        x = self.cnn(windows.reshape(b * t, 1, *windows.shape[2:]))
        x = self.fc(x.flatten(1)).reshape(b, t, -1)
        return self.lstm(x)[0]


class LatentDecoder(nn.Module):
    def __init__(self, n_components: int = 2500, embed: int = 256, hidden: int = 512):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_components + embed, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_components),
        )

    def forward(self, identity_coefficients: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """(B, K), (B, T, 256) -> h_t (B, T, K)."""
        ident = identity_coefficients[:, None].expand(-1, audio.shape[1], -1)
        return self.net(torch.cat([ident, audio], dim=-1))
