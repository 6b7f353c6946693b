"""The Wav2Lip generator (Prajwal et al. 2020) in the Rudrabha/Wav2Lip key layout, pure PyTorch.

A U-Net over 96×96 faces: the encoder sees [lower-half-masked target, reference] (6 channels, BGR
in [0, 1]), the audio encoder a (1, 80, 16) mel chunk; decoder blocks concatenate the matching
encoder features. 352 tensors and 36.3 M parameters at width 1 (the official file);
`width` < 1 narrows every layer for the tiny test configuration.
"""

from __future__ import annotations

import torch
from torch import nn


class ConvBlock(nn.Module):
    """Conv + BatchNorm + ReLU, optionally residual (the official `Conv2d` wrapper)."""

    def __init__(self, cin, cout, kernel, stride, padding, residual=False):
        super().__init__()
        self.conv_block = nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, padding), nn.BatchNorm2d(cout))
        self.act = nn.ReLU()
        self.residual = residual

    def forward(self, x):
        out = self.conv_block(x)
        return self.act(out + x if self.residual else out)


class ConvTransposeBlock(nn.Module):
    def __init__(self, cin, cout, kernel, stride, padding, output_padding=0):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ConvTranspose2d(cin, cout, kernel, stride, padding, output_padding), nn.BatchNorm2d(cout)
        )
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv_block(x))


class Wav2Lip(nn.Module):
    def __init__(self, width: float = 1.0):
        super().__init__()
        c = lambda n: max(1, int(round(n * width)))  # noqa: E731

        def res(n, k=3):
            return ConvBlock(c(n), c(n), k, 1, 1, residual=True)

        self.face_encoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(6, c(16), 7, 1, 3)),  # 96
                nn.Sequential(ConvBlock(c(16), c(32), 3, 2, 1), res(32), res(32)),  # 48
                nn.Sequential(ConvBlock(c(32), c(64), 3, 2, 1), res(64), res(64), res(64)),  # 24
                nn.Sequential(ConvBlock(c(64), c(128), 3, 2, 1), res(128), res(128)),  # 12
                nn.Sequential(ConvBlock(c(128), c(256), 3, 2, 1), res(256), res(256)),  # 6
                nn.Sequential(ConvBlock(c(256), c(512), 3, 2, 1), res(512)),  # 3
                nn.Sequential(ConvBlock(c(512), c(512), 3, 1, 0), ConvBlock(c(512), c(512), 1, 1, 0)),  # 1
            ]
        )
        self.audio_encoder = nn.Sequential(
            ConvBlock(1, c(32), 3, 1, 1),
            res(32),
            res(32),
            ConvBlock(c(32), c(64), 3, (3, 1), 1),
            res(64),
            res(64),
            ConvBlock(c(64), c(128), 3, 3, 1),
            res(128),
            res(128),
            ConvBlock(c(128), c(256), 3, (3, 2), 1),
            res(256),
            ConvBlock(c(256), c(512), 3, 1, 0),
            ConvBlock(c(512), c(512), 1, 1, 0),
        )

        def up(cin, cout):
            return ConvTransposeBlock(cin, c(cout), 3, 2, 1, output_padding=1)

        self.face_decoder_blocks = nn.ModuleList(
            [
                nn.Sequential(ConvBlock(c(512), c(512), 1, 1, 0)),
                nn.Sequential(ConvTransposeBlock(2 * c(512), c(512), 3, 1, 0), res(512)),  # 3
                nn.Sequential(up(2 * c(512), 512), res(512), res(512)),  # 6
                nn.Sequential(up(c(512) + c(256), 384), res(384), res(384)),  # 12
                nn.Sequential(up(c(384) + c(128), 256), res(256), res(256)),  # 24
                nn.Sequential(up(c(256) + c(64), 128), res(128), res(128)),  # 48
                nn.Sequential(up(c(128) + c(32), 64), res(64), res(64)),  # 96
            ]
        )
        self.output_block = nn.Sequential(
            ConvBlock(c(64) + c(16), c(32), 3, 1, 1), nn.Conv2d(c(32), 3, 1), nn.Sigmoid()
        )

    def forward(self, mel: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
        """mel (B, 1, 80, 16), faces (B, 6, 96, 96) -> (B, 3, 96, 96) BGR in [0, 1]."""
        feats = []
        x = faces
        for block in self.face_encoder_blocks:
            x = block(x)
            feats.append(x)
        x = self.audio_encoder(mel)
        for block in self.face_decoder_blocks:
            x = torch.cat((block(x), feats.pop()), dim=1)
        return self.output_block(x)
