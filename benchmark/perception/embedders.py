"""Identity embedders on user-supplied weights: `facenet-vggface2` and `arcface`.

- facenet-vggface2: InceptionResnetV1 in facenet-pytorch's key layout (its
  `20180402-114759-vggface2.pt`, logits head included in the file and unused). Chip: the
  landmark box (no margin), square, resized to 160², (x − 127.5) / 128; output L2-normalised 512-d.
- arcface: insightface arcface_torch iresnet100 (`backbone.pth`). Chip: the 5-point similarity
  transform of the eye centres, nose tip and mouth corners onto the standard 112² ArcFace
  template, (x / 255 − 0.5) / 0.5, RGB; output the 512-d `features`, L2-normalised.
Both run on the landmarks the scoring context already has (no second detector), like dlib-resnet,
on the settings' device (`get_embedder(name, device, weights_dir)`).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.core.checkpoints import load_strict, load_torch_file, strip_module_prefix
from benchmark.perception.base import Embedder
from benchmark.perception.user_weights import ARCFACE_R100, FACENET_VGGFACE2

# ---- InceptionResnetV1 (facenet-pytorch layout) ---------------------------------------------


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class ResidualInception(nn.Module):
    """Block35 / Block17 / Block8: parallel branches, 1x1 projection, scaled residual, ReLU."""

    def __init__(self, channels: int, branches: list[nn.Module], mixed: int, scale: float, relu: bool = True):
        super().__init__()
        self.scale = scale
        for i, branch in enumerate(branches):
            self.add_module(f"branch{i}", branch)
        self.n = len(branches)
        self.conv2d = nn.Conv2d(mixed, channels, 1)
        if relu:
            self.relu = nn.ReLU()

    def forward(self, x):
        out = self.conv2d(torch.cat([self._modules[f"branch{i}"](x) for i in range(self.n)], 1)) * self.scale + x
        return self.relu(out) if hasattr(self, "relu") else out


def block35(scale=0.17):
    return ResidualInception(
        256,
        [
            BasicConv2d(256, 32, 1, 1),
            nn.Sequential(BasicConv2d(256, 32, 1, 1), BasicConv2d(32, 32, 3, 1, 1)),
            nn.Sequential(BasicConv2d(256, 32, 1, 1), BasicConv2d(32, 32, 3, 1, 1), BasicConv2d(32, 32, 3, 1, 1)),
        ],
        96,
        scale,
    )


def block17(scale=0.10):
    return ResidualInception(
        896,
        [
            BasicConv2d(896, 128, 1, 1),
            nn.Sequential(
                BasicConv2d(896, 128, 1, 1),
                BasicConv2d(128, 128, (1, 7), 1, (0, 3)),
                BasicConv2d(128, 128, (7, 1), 1, (3, 0)),
            ),
        ],
        256,
        scale,
    )


def block8(scale=0.20, relu=True):
    return ResidualInception(
        1792,
        [
            BasicConv2d(1792, 192, 1, 1),
            nn.Sequential(
                BasicConv2d(1792, 192, 1, 1),
                BasicConv2d(192, 192, (1, 3), 1, (0, 1)),
                BasicConv2d(192, 192, (3, 1), 1, (1, 0)),
            ),
        ],
        384,
        scale,
        relu,
    )


class Mixed(nn.Module):
    """Mixed_6a / Mixed_7a: strided branches plus a max-pool branch, concatenated."""

    def __init__(self, branches: list[nn.Module]):
        super().__init__()
        for i, branch in enumerate(branches):
            self.add_module(f"branch{i}", branch)
        self.n = len(branches)

    def forward(self, x):
        return torch.cat([self._modules[f"branch{i}"](x) for i in range(self.n)], 1)


class InceptionResnetV1(nn.Module):
    def __init__(self, n_classes: int = 8631):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, 2)
        self.conv2d_2a = BasicConv2d(32, 32, 3, 1)
        self.conv2d_2b = BasicConv2d(32, 64, 3, 1, 1)
        self.maxpool_3a = nn.MaxPool2d(3, 2)
        self.conv2d_3b = BasicConv2d(64, 80, 1, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3, 1)
        self.conv2d_4b = BasicConv2d(192, 256, 3, 2)
        self.repeat_1 = nn.Sequential(*[block35() for _ in range(5)])
        self.mixed_6a = Mixed(
            [
                BasicConv2d(256, 384, 3, 2),
                nn.Sequential(BasicConv2d(256, 192, 1, 1), BasicConv2d(192, 192, 3, 1, 1), BasicConv2d(192, 256, 3, 2)),
                nn.MaxPool2d(3, 2),
            ]
        )
        self.repeat_2 = nn.Sequential(*[block17() for _ in range(10)])
        self.mixed_7a = Mixed(
            [
                nn.Sequential(BasicConv2d(896, 256, 1, 1), BasicConv2d(256, 384, 3, 2)),
                nn.Sequential(BasicConv2d(896, 256, 1, 1), BasicConv2d(256, 256, 3, 2)),
                nn.Sequential(BasicConv2d(896, 256, 1, 1), BasicConv2d(256, 256, 3, 1, 1), BasicConv2d(256, 256, 3, 2)),
                nn.MaxPool2d(3, 2),
            ]
        )
        self.repeat_3 = nn.Sequential(*[block8() for _ in range(5)])
        self.block8 = block8(scale=1.0, relu=False)
        self.last_linear = nn.Linear(1792, 512, bias=False)
        self.last_bn = nn.BatchNorm1d(512, eps=0.001, momentum=0.1)
        self.logits = nn.Linear(512, n_classes)  # classification head of the file; embeddings don't use it

    def forward(self, x):
        for name in (
            "conv2d_1a",
            "conv2d_2a",
            "conv2d_2b",
            "maxpool_3a",
            "conv2d_3b",
            "conv2d_4a",
            "conv2d_4b",
            "repeat_1",
            "mixed_6a",
            "repeat_2",
            "mixed_7a",
            "repeat_3",
            "block8",
        ):
            x = self._modules[name](x)
        x = self.last_bn(self.last_linear(F.adaptive_avg_pool2d(x, 1).flatten(1)))
        return F.normalize(x, p=2, dim=1)


# ---- iresnet100 (insightface arcface_torch layout) ------------------------------------------


class IBasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, downsample: bool):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
        self.prelu = nn.PReLU(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))
            if downsample
            else None
        )

    def forward(self, x):
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (self.downsample(x) if self.downsample is not None else x)


class IResNet(nn.Module):
    def __init__(self, layers=(3, 13, 30, 3), features: int = 512):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        cin = 64
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            blocks = [IBasicBlock(cin, planes, 2, True)] + [IBasicBlock(planes, planes, 1, False) for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            cin = planes
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.fc = nn.Linear(512 * 7 * 7, features)
        self.features = nn.BatchNorm1d(features, eps=1e-5)

    def forward(self, x):
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.features(self.fc(self.bn2(x).flatten(1)))


# ---- embedders ----------------------------------------------------------------------------------

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
)


def five_points(points: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip, mouth corners from iBUG-68 (the order of the ArcFace template)."""
    return np.stack([points[36:42].mean(0), points[42:48].mean(0), points[30], points[48], points[54]]).astype(
        np.float32
    )


def arcface_chip(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    matrix, _ = cv2.estimateAffinePartial2D(five_points(points), ARCFACE_TEMPLATE, method=cv2.LMEDS)
    return cv2.warpAffine(frame, matrix, (112, 112), borderValue=0.0)


def square_chip(frame: np.ndarray, points: np.ndarray, size: int) -> np.ndarray:
    x0, y0 = points.min(0)
    x1, y1 = points.max(0)
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) / 2
    box = np.array([[cx - half, cy - half], [cx + half, cy - half], [cx - half, cy + half]], dtype=np.float32)
    target = np.array([[0, 0], [size, 0], [0, size]], dtype=np.float32)
    return cv2.warpAffine(frame, cv2.getAffineTransform(box, target), (size, size), flags=cv2.INTER_LINEAR)


class TorchEmbedder(Embedder):
    """Embeds the frames where a face was found, in batches on `device`; NaN rows elsewhere."""

    reads_weights = True
    dims = 512
    batch = 64

    def __init__(self, weights, net: nn.Module, what: str, weights_dir: Path, device: str = "cpu"):
        path, self.weights_sha256 = weights.resolve(weights_dir)
        state = load_torch_file(path, what)
        state = strip_module_prefix(state.get("state_dict", state) if isinstance(state, dict) else state)
        self.net = load_strict(net, state, path, what).to(device).eval()
        self.device = str(device)

    def version(self) -> str:
        return f"{self.name}-{self.weights_sha256[:12]}"

    input_size: int  # the square chip the network takes

    def chip(self, frame, points) -> torch.Tensor:
        """The landmark-aligned face chip of one frame, normalised as the network was trained."""
        raise NotImplementedError

    def normalise(self, chip: np.ndarray) -> torch.Tensor:
        """(S, S, 3) uint8 chip -> (3, S, S) float input."""
        raise NotImplementedError

    @torch.no_grad()
    def embed(self, frames: np.ndarray, points: np.ndarray, found: np.ndarray) -> np.ndarray:
        idx = np.nonzero(found)[0]
        return self._embed_rows(len(frames), idx, lambda t: self.chip(frames[t], points[t]))

    @torch.no_grad()
    def embed_whole(self, frames: np.ndarray) -> np.ndarray:
        """No face alignment: each whole frame resized (cv2 bilinear) to the network's input (ViCo's CSIM)."""
        size = (self.input_size, self.input_size)
        return self._embed_rows(
            len(frames),
            np.arange(len(frames)),
            lambda t: self.normalise(cv2.resize(frames[t], size, interpolation=cv2.INTER_LINEAR)),
        )

    def _embed_rows(self, n: int, idx: np.ndarray, make_input) -> np.ndarray:
        out = np.full((n, self.dims), np.nan)
        if not len(idx):
            return out
        embeddings = []
        for start in range(0, len(idx), self.batch):
            chips = torch.stack([make_input(t) for t in idx[start : start + self.batch]])
            embeddings.append(F.normalize(self.net(chips.to(self.device)).float(), dim=1))
        out[idx] = torch.cat(embeddings).cpu().numpy()  # one device-to-host copy per video
        return out


class FacenetEmbedder(TorchEmbedder):
    name = "facenet-vggface2"

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        super().__init__(
            FACENET_VGGFACE2, InceptionResnetV1(), "facenet-pytorch InceptionResnetV1 (vggface2)", weights_dir, device
        )

    input_size = 160

    def chip(self, frame, points):
        return self.normalise(square_chip(frame, points, self.input_size))

    def normalise(self, chip):
        return torch.from_numpy((chip.astype(np.float32) - 127.5) / 128.0).permute(2, 0, 1)


class ArcfaceEmbedder(TorchEmbedder):
    name = "arcface"

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        super().__init__(ARCFACE_R100, IResNet(), "insightface arcface_torch iresnet100", weights_dir, device)

    input_size = 112

    def chip(self, frame, points):
        return self.normalise(arcface_chip(frame, points))

    def normalise(self, chip):
        return torch.from_numpy((chip.astype(np.float32) / 255.0 - 0.5) / 0.5).permute(2, 0, 1)
