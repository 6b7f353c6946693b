"""`fan` landmarks: face-alignment's 2DFAN4 network (Bulat & Tzimiropoulos 2017) on user-supplied weights.

The network and its key layout follow face-alignment, so `2DFAN4-11f355bf06.pth.tar` loads
strictly. Pre- and post-processing follow its `get_landmarks_from_image`: a crop around the box
centre (moved up by 0.12 of the box height) at scale (w + h) / 195, resized to 256², RGB/255;
the last hourglass's 64² heatmaps; argmax, a quarter-pixel step towards the larger neighbour,
−0.5, and the inverse crop transform (integer pixels, as face-alignment returns them).

Face boxes: face-alignment's S3FD detector downloads its weights, so boxes here come from the
mediapipe face mesh (jaw extent; top 0.2 brow-to-chin distances above the brows) — recorded in the
backend id. Points are shifted by −1 to this harness's convention (pixel centres at integers,
0-based), since face-alignment's crop works in 1-based pixel coordinates.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmark.checkpoints import load_strict, load_torch_file, strip_module_prefix
from benchmark.perception.base import LandmarkBackend, LandmarkTrack
from benchmark.perception.face_geometry import face_box_from_landmarks
from benchmark.perception.registry import get_landmark_backend
from benchmark.perception.user_weights import FAN_2D

REFERENCE_SCALE, CENTER_Y_OFFSET, CROP = 195.0, 0.12, 256


class ConvBlock(nn.Module):
    """Pre-activation block whose three 3x3 convs (out/2, out/4, out/4) are concatenated."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout // 2, 3, 1, 1, bias=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout // 2), nn.Conv2d(cout // 2, cout // 4, 3, 1, 1, bias=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(cout // 4), nn.Conv2d(cout // 4, cout // 4, 3, 1, 1, bias=False)
        self.downsample = (nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(True), nn.Conv2d(cin, cout, 1, bias=False))
                           if cin != cout else None)

    def forward(self, x):
        o1 = self.conv1(F.relu(self.bn1(x)))
        o2 = self.conv2(F.relu(self.bn2(o1)))
        o3 = self.conv3(F.relu(self.bn3(o2)))
        return torch.cat([o1, o2, o3], 1) + (self.downsample(x) if self.downsample is not None else x)


class HourGlass(nn.Module):
    def __init__(self, depth: int, features: int):
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):  # registration order matches face-alignment's recursion
            self.add_module(f"b1_{level}", ConvBlock(features, features))
            self.add_module(f"b2_{level}", ConvBlock(features, features))
            if level == 1:
                self.add_module(f"b2_plus_{level}", ConvBlock(features, features))
        for level in range(1, depth + 1):
            self.add_module(f"b3_{level}", ConvBlock(features, features))

    def _level(self, level: int, x):
        up = self._modules[f"b1_{level}"](x)
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self._level(level - 1, low) if level > 1 else self._modules[f"b2_plus_{level}"](low)
        low = self._modules[f"b3_{level}"](low)
        return up + F.interpolate(low, scale_factor=2, mode="nearest")

    def forward(self, x):
        return self._level(self.depth, x)


class FAN(nn.Module):
    def __init__(self, num_modules: int = 4):
        super().__init__()
        self.num_modules = num_modules
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, 2, 3), nn.BatchNorm2d(64)
        self.conv2, self.conv3, self.conv4 = ConvBlock(64, 128), ConvBlock(128, 128), ConvBlock(128, 256)
        for i in range(num_modules):
            self.add_module(f"m{i}", HourGlass(4, 256))
            self.add_module(f"top_m_{i}", ConvBlock(256, 256))
            self.add_module(f"conv_last{i}", nn.Conv2d(256, 256, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(256))
            self.add_module(f"l{i}", nn.Conv2d(256, 68, 1))
            if i < num_modules - 1:
                self.add_module(f"bl{i}", nn.Conv2d(256, 256, 1))
                self.add_module(f"al{i}", nn.Conv2d(68, 256, 1))

    def forward(self, x):
        """(B, 3, 256, 256) RGB in [0, 1] -> heatmaps of the last stack (B, 68, 64, 64)."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        previous = x
        for i in range(self.num_modules):
            ll = self._modules[f"top_m_{i}"](self._modules[f"m{i}"](previous))
            ll = F.relu(self._modules[f"bn_end{i}"](self._modules[f"conv_last{i}"](ll)))
            heatmaps = self._modules[f"l{i}"](ll)
            if i < self.num_modules - 1:
                previous = previous + self._modules[f"bl{i}"](ll) + self._modules[f"al{i}"](heatmaps)
        return heatmaps


def crop_transform(center: np.ndarray, scale: float, resolution: float) -> np.ndarray:
    h = 200.0 * scale
    return np.array([[resolution / h, 0, resolution * (-center[0] / h + 0.5)],
                     [0, resolution / h, resolution * (-center[1] / h + 0.5)], [0, 0, 1.0]])


def to_crop_pixel(point, center, scale, resolution, invert=False) -> np.ndarray:
    t = crop_transform(center, scale, resolution)
    if invert:
        t = np.linalg.pinv(t)
    return (t @ np.array([point[0], point[1], 1.0]))[:2].astype(np.int32)  # truncation, as face-alignment does


def crop_face(image: np.ndarray, center: np.ndarray, scale: float, resolution: int = CROP) -> np.ndarray:
    """face-alignment's crop: the box [ul, br] (1-based) copied into a zero canvas, resized linearly."""
    ul = to_crop_pixel([1, 1], center, scale, resolution, True)
    br = to_crop_pixel([resolution, resolution], center, scale, resolution, True)
    canvas = np.zeros((br[1] - ul[1], br[0] - ul[0], 3), dtype=np.uint8)
    ht, wd = image.shape[:2]
    new_x = (max(1, -ul[0] + 1), min(br[0], wd) - ul[0])
    new_y = (max(1, -ul[1] + 1), min(br[1], ht) - ul[1])
    old_x = (max(1, ul[0] + 1), min(br[0], wd))
    old_y = (max(1, ul[1] + 1), min(br[1], ht))
    canvas[new_y[0] - 1:new_y[1], new_x[0] - 1:new_x[1]] = image[old_y[0] - 1:old_y[1], old_x[0] - 1:old_x[1]]
    return cv2.resize(canvas, (resolution, resolution), interpolation=cv2.INTER_LINEAR)


def heatmap_peaks(hm: np.ndarray) -> np.ndarray:
    """(68, 64, 64) -> (68, 2) heatmap coordinates: argmax (1-based), quarter-pixel refinement, −0.5."""
    n, h, w = hm.shape
    idx = hm.reshape(n, -1).argmax(1) + 1
    preds = np.stack([(idx - 1) % w + 1, np.floor((idx - 1) / h) + 1], 1).astype(np.float32)
    for j in range(n):
        px, py = int(preds[j, 0]) - 1, int(preds[j, 1]) - 1
        if 0 < px < 63 and 0 < py < 63:
            diff = np.array([hm[j, py, px + 1] - hm[j, py, px - 1], hm[j, py + 1, px] - hm[j, py - 1, px]])
            preds[j] += np.sign(diff) * 0.25
    return preds - 0.5


class FanLandmarks(LandmarkBackend):
    """2DFAN4 on `device`: crops are made on the CPU, the network runs in batches, heatmaps come back once."""

    name = "fan"
    reads_weights = True
    batch = 32

    def __init__(self, weights_dir: Path, device: str = "cpu") -> None:
        path, self.weights_sha256 = FAN_2D.resolve(weights_dir)
        state = strip_module_prefix(load_torch_file(path, "face-alignment 2DFAN4 weights"))
        self.net = load_strict(FAN(4), state, path, "face-alignment 2DFAN4").to(device).eval()
        self.device = str(device)
        self.boxes = get_landmark_backend("mediapipe")

    def version(self) -> str:
        return f"fan-2DFAN4-{self.weights_sha256[:12]} (boxes: {self.boxes.version()})"

    @torch.no_grad()
    def heatmaps(self, crops: np.ndarray) -> np.ndarray:
        """(N, 256, 256, 3) uint8 crops -> (N, 68, 64, 64) float32 heatmaps, one device-to-host copy."""
        out = []
        for start in range(0, len(crops), self.batch):
            x = torch.from_numpy(np.ascontiguousarray(crops[start:start + self.batch])).to(self.device)
            out.append(self.net(x.permute(0, 3, 1, 2).float() / 255.0).float())
        return torch.cat(out).cpu().numpy() if out else np.zeros((0, 68, 64, 64), np.float32)

    def detect(self, frames: np.ndarray) -> LandmarkTrack:
        boxes = self.boxes.detect(frames)
        points = np.full((len(frames), 68, 2), np.nan, dtype=np.float64)
        found = np.nonzero(boxes.found)[0]
        crops, frames_of = [], []
        for t in found:
            x1, y1, x2, y2 = face_box_from_landmarks(boxes.points[t])
            center = np.array([x2 - (x2 - x1) / 2.0, y2 - (y2 - y1) / 2.0])
            center[1] -= (y2 - y1) * CENTER_Y_OFFSET
            scale = (x2 - x1 + y2 - y1) / REFERENCE_SCALE
            crops.append(crop_face(frames[t], center, scale))
            frames_of.append((center, scale))
        heatmaps = self.heatmaps(np.stack(crops)) if crops else []
        for t, hm, (center, scale) in zip(found, heatmaps, frames_of):
            peaks = heatmap_peaks(hm)
            points[t] = np.stack([to_crop_pixel(p, center, scale, hm.shape[-1], True) for p in peaks]) - 1.0
        return LandmarkTrack(points, boxes.found.copy(), self.version())
