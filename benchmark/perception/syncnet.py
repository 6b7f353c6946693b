"""SyncNet (Chung & Zisserman 2016), `syncnet_v2.model` of joonson/syncnet_python, for LSE-C/LSE-D.

The layers carry the official names (netcnnaud, netfcaud, netcnnlip, netfclip; 102 tensors),
so the user's plain state_dict loads strictly with weights_only=True. The weights are not
obtainable offline: the user puts the file in the weights folder (Settings.weights_dir, passed in).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from benchmark.core.checkpoints import check_state_dict, load_torch_file, strip_module_prefix
from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file
from benchmark.perception.base import Network

WEIGHTS_FILE = "syncnet_v2.model"


def _conv_bn(conv: nn.Module, channels: int, bn=nn.BatchNorm2d) -> list[nn.Module]:
    return [conv, bn(channels), nn.ReLU()]


class SyncNet(nn.Module):
    def __init__(self, embedding: int = 1024):
        super().__init__()
        c2, c3 = nn.Conv2d, nn.Conv3d
        self.netcnnaud = nn.Sequential(
            *_conv_bn(c2(1, 64, 3, padding=1), 64),
            nn.MaxPool2d(1, 1),
            *_conv_bn(c2(64, 192, 3, padding=1), 192),
            nn.MaxPool2d(3, stride=(1, 2)),
            *_conv_bn(c2(192, 384, 3, padding=1), 384),
            *_conv_bn(c2(384, 256, 3, padding=1), 256),
            *_conv_bn(c2(256, 256, 3, padding=1), 256),
            nn.MaxPool2d(3, stride=2),
            *_conv_bn(c2(256, 512, (5, 4)), 512),
        )
        self.netfcaud = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
        self.netfclip = nn.Sequential(nn.Linear(512, 512), nn.BatchNorm1d(512), nn.ReLU(), nn.Linear(512, embedding))
        bn3 = nn.BatchNorm3d
        self.netcnnlip = nn.Sequential(
            *_conv_bn(c3(3, 96, (5, 7, 7), stride=(1, 2, 2)), 96, bn3),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2)),
            *_conv_bn(c3(96, 256, (1, 5, 5), stride=(1, 2, 2), padding=(0, 1, 1)), 256, bn3),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, bn3),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, bn3),
            *_conv_bn(c3(256, 256, (1, 3, 3), padding=(0, 1, 1)), 256, bn3),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2)),
            *_conv_bn(c3(256, 512, (1, 6, 6)), 512, bn3),
        )

    def forward_audio(self, mfcc: torch.Tensor) -> torch.Tensor:
        """(B, 1, 13, 20) MFCC windows -> (B, 1024)."""
        return self.netfcaud(self.netcnnaud(mfcc).flatten(1))

    def forward_lips(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 5, 224, 224) BGR 0-255 -> (B, 1024)."""
        return self.netfclip(self.netcnnlip(clips).flatten(1))


def weights_path(weights_dir: str | Path) -> Path:
    return Path(weights_dir) / WEIGHTS_FILE


def load_syncnet_state(path: Path) -> dict[str, torch.Tensor]:
    """Read a syncnet_v2.model state_dict and check every official key and shape, naming the first wrong one."""
    state = load_torch_file(
        path, "a SyncNet state_dict", hint="use the official syncnet_v2.model from joonson/syncnet_python"
    )
    if not isinstance(state, dict):
        raise BenchError(f"{path}: expected a state_dict (dict of tensors), found {type(state).__name__}")
    state = strip_module_prefix(state)
    check_state_dict(SyncNet().state_dict(), state, path, "syncnet_v2.model")
    return state


class SyncNetBackend(Network):
    """syncnet_v2.model on the settings' device: `get_network("syncnet", device, weights_dir)`; `model` is the network."""

    name = "syncnet"

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        path = weights_path(weights_dir)
        if not path.is_file():
            raise BenchError(
                f"LSE-C/LSE-D need SyncNet weights: put {WEIGHTS_FILE} (joonson/syncnet_python, MIT) at {path}",
                hint="it cannot be downloaded here; copy it from a machine that has it (or drop lse-c/lse-d from --metrics)",
            )
        model = SyncNet()
        model.load_state_dict(load_syncnet_state(path), strict=False)
        self.device, self.weights_sha256 = str(device), sha256_file(path)
        self.model = model.eval().to(self.device)

    def version(self) -> str:
        return f"{WEIGHTS_FILE} sha256 {self.weights_sha256}"
