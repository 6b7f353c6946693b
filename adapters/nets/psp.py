"""pSp's GradualStyleEncoder(50, 'ir_se') in the eladrich/pixel2style2pixel key layout, pure PyTorch.

An IR-SE-50 backbone; three feature maps (16², 32², 64² for a 256² input) feed map-to-style
blocks for the coarse (0–2), middle (3–6) and fine (7+) W+ layers, FPN-style. Input: an
FFHQ-aligned face at 256², RGB in [-1, 1]. Output: (B, n_styles, 512), added to `latent_avg`.
`width` and `n_styles` shrink it for the tiny test configuration; the official file has 621 tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from adapters.nets.stylegan2 import EqualLinear

# (in, depth, units) of the four IR-50 stages; each stage's first unit halves the resolution
IR50_STAGES = ((64, 64, 3), (64, 128, 4), (128, 256, 14), (256, 512, 3))


class SEModule(nn.Module):
    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, 1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, 1, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class BottleneckIRSE(nn.Module):
    def __init__(self, in_ch: int, depth: int, stride: int):
        super().__init__()
        if in_ch == depth:
            self.shortcut_layer = nn.MaxPool2d(1, stride)
        else:
            self.shortcut_layer = nn.Sequential(nn.Conv2d(in_ch, depth, 1, stride, bias=False), nn.BatchNorm2d(depth))
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(in_ch),
            nn.Conv2d(in_ch, depth, 3, 1, 1, bias=False),
            nn.PReLU(depth),
            nn.Conv2d(depth, depth, 3, stride, 1, bias=False),
            nn.BatchNorm2d(depth),
            SEModule(depth, 16),
        )

    def forward(self, x):
        return self.res_layer(x) + self.shortcut_layer(x)


class GradualStyleBlock(nn.Module):
    def __init__(self, in_ch: int, out_ch: int, spatial: int, style_dim: int):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, 2, 1), nn.LeakyReLU()]
        for _ in range(int(math.log2(spatial)) - 1):
            layers += [nn.Conv2d(out_ch, out_ch, 3, 2, 1), nn.LeakyReLU()]
        self.convs = nn.Sequential(*layers)
        self.linear = EqualLinear(out_ch, style_dim, lr_mul=1)
        self.out_ch = out_ch

    def forward(self, x):
        return self.linear(self.convs(x).reshape(-1, self.out_ch))


class GradualStyleEncoder(nn.Module):
    COARSE, MIDDLE = 3, 7  # style indices where the middle and fine groups start

    def __init__(self, n_styles: int = 18, width: int = 64, input_nc: int = 3, input_size: int = 256):
        super().__init__()
        w = lambda c: c * width // 64  # noqa: E731 - channel scaling for the tiny configuration
        self.input_layer = nn.Sequential(
            nn.Conv2d(input_nc, w(64), 3, 1, 1, bias=False), nn.BatchNorm2d(w(64)), nn.PReLU(w(64))
        )
        units = []
        for in_ch, depth, n in IR50_STAGES:
            units.append(BottleneckIRSE(w(in_ch), w(depth), 2))
            units += [BottleneckIRSE(w(depth), w(depth), 1) for _ in range(n - 1)]
        self.body = nn.Sequential(*units)
        self.n_styles = n_styles
        spatial = {0: input_size // 16, 1: input_size // 8, 2: input_size // 4}
        self.styles = nn.ModuleList(
            GradualStyleBlock(w(512), w(512), spatial[0 if i < self.COARSE else 1 if i < self.MIDDLE else 2], 512)
            for i in range(n_styles)
        )
        self.latlayer1 = nn.Conv2d(w(256), w(512), 1)
        self.latlayer2 = nn.Conv2d(w(128), w(512), 1)
        # body indices whose outputs are the 64², 32² and 16² feature maps (end of stages 2, 3, 4)
        self.taps = (sum(n for *_, n in IR50_STAGES[:2]) - 1, sum(n for *_, n in IR50_STAGES[:3]) - 1, len(units) - 1)

    @staticmethod
    def _upsample_add(x, y):
        return F.interpolate(x, size=y.shape[-2:], mode="bilinear", align_corners=True) + y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_layer(x)
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i == self.taps[0]:
                c1 = x
            elif i == self.taps[1]:
                c2 = x
        c3 = x
        latents = [self.styles[j](c3) for j in range(min(self.COARSE, self.n_styles))]
        p2 = self._upsample_add(c3, self.latlayer1(c2))
        latents += [self.styles[j](p2) for j in range(self.COARSE, min(self.MIDDLE, self.n_styles))]
        p1 = self._upsample_add(p2, self.latlayer2(c1))
        latents += [self.styles[j](p1) for j in range(self.MIDDLE, self.n_styles)]
        return torch.stack(latents, dim=1)


def encoder_from_state_dict(state: dict[str, torch.Tensor], prefix: str = "encoder.") -> GradualStyleEncoder:
    """An encoder shaped like the checkpoint: n_styles and width read off its tensors."""
    n_styles = len({k[len(prefix) :].split(".")[1] for k in state if k.startswith(prefix + "styles.")})
    width = int(state[prefix + "input_layer.0.weight"].shape[0])
    return GradualStyleEncoder(n_styles=n_styles, width=width)
