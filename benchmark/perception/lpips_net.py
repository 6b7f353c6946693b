"""LPIPS (Zhang et al. 2018, v0.1): distances between unit-normalised deep features, weighted by learned heads.

The backbone is torchvision's AlexNet or VGG16 *features*, built here in torchvision's key layout so
the user's own torchvision checkpoint (`alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`) loads
strictly, classifier included (unused); nothing is downloaded. The five linear heads are the files
the `lpips` package ships (`lpips/weights/v0.1/{alex,vgg}.pth`, keys `lin{k}.model.1.weight`),
found without importing `lpips` (whose import needs torchvision). Per layer k the image pair's
features are divided by their channel norm (+1e-10), their squared difference is weighted by head
k (a 1x1 convolution without bias) and averaged over space; LPIPS is the sum over the five layers.
Inputs are RGB in [-1, 1], shifted and scaled per channel as the package does before the backbone.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from benchmark.core.checkpoints import load_strict, load_torch_file
from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file
from benchmark.perception.base import Network
from benchmark.perception.user_weights import ALEXNET_TORCHVISION, VGG16_TORCHVISION

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
NORM_EPS = 1e-10

# torchvision's alexnet().features, in order
ALEX_FEATURES = [
    ("conv", 3, 64, 11, 4, 2),
    "relu",
    ("pool",),
    ("conv", 64, 192, 5, 1, 2),
    "relu",
    ("pool",),
    ("conv", 192, 384, 3, 1, 1),
    "relu",
    ("conv", 384, 256, 3, 1, 1),
    "relu",
    ("conv", 256, 256, 3, 1, 1),
    "relu",
    ("pool",),
]
VGG16_CHANNELS = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
TAPS = {"alex": (1, 4, 7, 9, 11), "vgg": (3, 8, 15, 22, 29)}  # relu1..relu5 (AlexNet), relu1_2..relu5_3 (VGG16)
CHANNELS = {"alex": (64, 192, 384, 256, 256), "vgg": (64, 128, 256, 512, 512)}


def _vgg16_layers() -> list[nn.Module]:
    layers, cin = [], 3
    for c in VGG16_CHANNELS:
        if c == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, c, 3, padding=1), nn.ReLU(inplace=False)]
            cin = c
    return layers


def _alex_layers() -> list[nn.Module]:
    out = []
    for spec in ALEX_FEATURES:
        if spec == "relu":
            out.append(nn.ReLU(inplace=False))
        elif spec[0] == "pool":
            out.append(nn.MaxPool2d(3, 2))
        else:
            _, cin, cout, k, s, p = spec
            out.append(nn.Conv2d(cin, cout, k, s, p))
    return out


class TorchvisionBackbone(nn.Module):
    """AlexNet / VGG16 with torchvision's module names (features.N, classifier.N), so its files load strictly."""

    def __init__(self, net: str):
        super().__init__()
        if net == "alex":
            self.features = nn.Sequential(*_alex_layers())
            self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
            self.classifier = nn.Sequential(
                nn.Dropout(),
                nn.Linear(256 * 36, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Linear(4096, 1000),
            )
        else:
            self.features = nn.Sequential(*_vgg16_layers())
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(512 * 49, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, 4096),
                nn.ReLU(),
                nn.Dropout(),
                nn.Linear(4096, 1000),
            )
        self.taps = TAPS[net]

    def tapped(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five compared activations, running the features only as far as the last one."""
        out = []
        for index, layer in enumerate(self.features[: self.taps[-1] + 1]):
            x = layer(x)
            if index in self.taps:
                out.append(x)
        return out


def lpips_heads_file(net: str, weights_dir: Path | None = None) -> Path:
    """The `lpips` package's v0.1 head file for `net`, or the same file under <weights>/lpips/."""
    spec = importlib.util.find_spec("lpips")
    candidates = []
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent / "weights" / "v0.1" / f"{net}.pth")
    if weights_dir is not None:
        candidates.append(Path(weights_dir) / "lpips" / f"{net}.pth")
    for path in candidates:
        if path.is_file():
            return path
    raise BenchError(
        f"LPIPS needs its linear heads (v0.1 {net}.pth): the lpips package is not installed"
        + (f" and {candidates[-1]} does not exist" if weights_dir is not None else ""),
        hint="pip install --no-deps lpips==0.1.4 (it ships the heads; scripts/setup.sh does this), "
        f"or copy its lpips/weights/v0.1/{net}.pth to <weights>/lpips/{net}.pth",
    )


class LPIPSNet(nn.Module):
    """LPIPS v0.1 on a user-supplied torchvision backbone: `forward(a, b)` -> (N,) distances for [-1, 1] inputs."""

    def __init__(self, net: str, weights_dir: Path):
        super().__init__()
        if net not in TAPS:
            raise ValueError(f"LPIPS backbone {net!r}: expected one of {sorted(TAPS)}")
        backbone_file = {"alex": ALEXNET_TORCHVISION, "vgg": VGG16_TORCHVISION}[net]
        path, self.backbone_sha256 = backbone_file.resolve(weights_dir)
        self.backbone = load_strict(
            TorchvisionBackbone(net), load_torch_file(path, backbone_file.what), path, backbone_file.what
        )
        heads_path = lpips_heads_file(net, weights_dir)
        self.heads_sha256 = sha256_file(heads_path)
        heads = load_torch_file(heads_path, f"the LPIPS {net} heads", hint="reinstall lpips==0.1.4")
        expected = {f"lin{k}.model.1.weight": (1, c, 1, 1) for k, c in enumerate(CHANNELS[net])}
        found = {k: tuple(v.shape) for k, v in heads.items()} if isinstance(heads, dict) else {}
        if found != expected:
            raise BenchError(
                f"{heads_path}: not the lpips v0.1 {net} heads (keys/shapes {found})",
                hint="reinstall lpips==0.1.4, whose wheel ships them",
            )
        self.heads = nn.ParameterList(
            [nn.Parameter(heads[f"lin{k}.model.1.weight"].float(), requires_grad=False) for k in range(5)]
        )
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.net = net
        self.eval()

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        n = len(a)
        features = self.backbone.tapped((torch.cat([a, b]) - self.shift) / self.scale)  # one pass for both
        total = torch.zeros(n, dtype=a.dtype, device=a.device)
        for head, f in zip(self.heads, features):
            f = f / (f.pow(2).sum(1, keepdim=True).sqrt() + NORM_EPS)
            diff = (f[:n] - f[n:]).pow(2)
            total = total + nn.functional.conv2d(diff, head.to(diff.dtype)).mean((1, 2, 3))
        return total


class LpipsNetwork(Network):
    """LPIPS v0.1 on the settings' device: `get_network("lpips-alex" | "lpips-vgg", device, weights_dir)`.
    `distances(a, b)` -> (N,) for [-1, 1] RGB inputs on this device."""

    backbone: str  # "alex" | "vgg": the torchvision backbone

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        self.device = str(device)
        self.net = LPIPSNet(self.backbone, weights_dir).to(self.device)
        self.weights_sha256 = self.net.backbone_sha256

    def version(self) -> str:
        return (
            f"lpips-v0.1-{self.backbone} heads {self.net.heads_sha256[:12]}, backbone {self.net.backbone_sha256[:12]}"
        )

    def distances(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.net(a, b)


class LpipsAlex(LpipsNetwork):
    name, backbone = "lpips-alex", "alex"


class LpipsVgg(LpipsNetwork):
    name, backbone = "lpips-vgg", "vgg"
