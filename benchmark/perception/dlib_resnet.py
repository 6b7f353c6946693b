"""dlib's face-recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) read without dlib and
run in torch: the same network and weights, ~10x faster on a CPU than dlib's own build.

The file is dlib's binary serialisation of the `anet_type` of dlib's dnn_face_recognition_ex.cpp:

    loss_metric<fc_no_bias<128, avg_pool_everything<level0<level1<level2<level3<level4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>

Facts of the format used here (from dlib's serialize.h and dnn/*.h):
- an integer is one control byte (low nibble: payload length; 0x80: negative) + little-endian bytes;
  a float scalar is an integer mantissa and an integer exponent; a bool is the byte '0' or '1';
  a string is its length, then bytes; a tensor is version 2, four dimensions, then raw float32;
- nested layers write their version numbers outermost first, then the input layer, then each
  layer's details innermost first; tag and skip layers carry no name, so the structure is walked
  as known and every name, version, kernel and stride read is checked against it.

Conventions that change the numbers: the input is (pixel - per-channel mean) / 256, means from the
file; stride-1 layers pad kernel // 2, stride-2 layers (stem, first conv of a down block, the pools)
pad 0; a residual add whose operands differ in shape zero-pads the smaller one at the end of each
axis (channels, then bottom rows and right columns) - every down block does, on channels, and
two also on rows and columns (a 3x3 branch into a 4x4 shortcut). tests/test_lse_acd.py checks the
descriptors against dlib's own compute_face_descriptor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class DlibFormatError(ValueError):
    """The file is not the dlib face-recognition network this module knows."""


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def int(self) -> int:
        control = self.data[self.pos]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer at byte {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1 : self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if control & 0x80 else value

    def float(self) -> float:
        mantissa, exponent = self.int(), self.int()
        special = {32000: float("inf"), 32001: float("-inf"), 32002: float("nan")}
        return special.get(exponent, float(mantissa) * 2.0**exponent)

    def bool(self) -> bool:
        byte = self.data[self.pos : self.pos + 1]
        if byte not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool at byte {self.pos}")
        self.pos += 1
        return byte == b"1"

    def str(self) -> str:
        n = self.int()
        text = self.data[self.pos : self.pos + n].decode("latin1")
        self.pos += n
        return text

    def name(self, *allowed: str) -> str:
        found = self.str()
        if found not in allowed:
            raise DlibFormatError(f"expected layer {' or '.join(allowed)}, found {found!r} at byte {self.pos}")
        return found

    def version(self, *allowed: int) -> int:
        found = self.int()
        if found not in allowed:
            raise DlibFormatError(f"unknown serialisation version {found} at byte {self.pos}")
        return found

    def tensor(self) -> np.ndarray:
        self.version(2)
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos)
        self.pos += 4 * count
        return values.reshape(shape)

    def alias_shape(self) -> tuple[int, ...]:
        self.version(1)
        return tuple(self.int() for _ in range(4))


# ---- the known structure, outermost layer first ----------------------------------------------


def _block(n: int, stride: int) -> list:
    """affine<con<n,3,3,1,1, relu<affine<con<n,3,3,stride,stride, ...>>>>>"""
    return [("affine",), ("con", n, 3, 1), ("relu",), ("affine",), ("con", n, 3, stride)]


def _residual(n: int) -> list:
    """relu<add_prev1<block<n,1, tag1<...>>>>"""
    return [("relu",), ("add_prev",), *_block(n, 1), ("tag",)]


def _residual_down(n: int) -> list:
    """relu<add_prev2<avg_pool<2,2,2,2, skip1<tag2<block<n,2, tag1<...>>>>>>>"""
    return [("relu",), ("add_prev",), ("avg_pool", 2, 2), ("skip",), ("tag",), *_block(n, 2), ("tag",)]


def _structure() -> list:
    layers = [("fc",), ("avg_pool", 0, 1)]
    for n, plain, down in ((256, 0, True), (256, 2, True), (128, 2, True), (64, 3, True), (32, 3, False)):
        layers += [item for _ in range(plain) for item in _residual(n)] + (_residual_down(n) if down else [])
    return layers + [("max_pool", 3, 2), ("relu",), ("affine",), ("con", 32, 7, 2)]


def _read_details(r: _Reader, layer: tuple) -> dict:
    kind = layer[0]
    if kind == "con":
        name = r.name("con_4", "con_5", "con_6")
        params = r.tensor().reshape(-1)
        filters, rows, cols, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(7))
        weight_shape, bias_shape = r.alias_shape(), r.alias_shape()
        for _ in range(4):
            r.float()  # learning-rate and weight-decay multipliers
        use_bias = r.bool() if name != "con_4" else True
        if name == "con_6":
            r.bool()
        if (filters, rows, cols, stride_y, stride_x) != (layer[1], layer[2], layer[2], layer[3], layer[3]):
            raise DlibFormatError(f"convolution {filters}x{rows}x{cols}/{stride_y} where {layer[1:]} was expected")
        n_weights = int(np.prod(weight_shape))
        bias = params[n_weights : n_weights + int(np.prod(bias_shape))] if use_bias else np.zeros(filters, np.float32)
        return {
            "kind": "con",
            "weight": params[:n_weights].reshape(weight_shape),
            "bias": bias,
            "stride": stride_y,
            "padding": pad_y,
        }
    if kind == "affine":
        name = r.name("affine_", "affine_2")
        params = r.tensor().reshape(-1)
        n = int(np.prod(r.alias_shape()))
        r.alias_shape()
        r.int()  # mode: per channel
        if name == "affine_2" and r.bool():
            raise DlibFormatError("a disabled affine layer")
        return {"kind": "affine", "gamma": params[:n], "beta": params[n : 2 * n]}
    if kind == "relu":
        if r.name("relu_", "relu_2") == "relu_2" and r.bool():
            raise DlibFormatError("a disabled relu layer")
        return {"kind": "relu"}
    if kind in ("max_pool", "avg_pool"):
        r.name(f"{kind}_2")
        rows, cols, stride_y, stride_x, pad_y, pad_x = (r.int() for _ in range(6))
        if (rows, stride_y) != (layer[1], layer[2]):
            raise DlibFormatError(f"{kind} {rows}/{stride_y} where {layer[1:]} was expected")
        return {"kind": kind, "size": rows, "stride": stride_y, "padding": pad_y}
    if kind == "add_prev":
        r.name("add_prev_")
        return {"kind": "add_prev"}
    if kind == "fc":
        name = r.name("fc_2", "fc_3")
        n_out, n_in = r.int(), r.int()
        params = r.tensor().reshape(-1)
        r.alias_shape(), r.alias_shape()
        bias_mode = r.int()
        for _ in range(4):
            r.float()
        use_bias = r.bool() if name == "fc_3" else True
        if bias_mode == 0 and use_bias:
            raise DlibFormatError("a fully connected layer with a bias where fc_no_bias was expected")
        return {"kind": "fc", "weight": params[: n_in * n_out].reshape(n_in, n_out)}  # out = x @ W
    raise AssertionError(kind)


def parse(data: bytes) -> tuple[tuple[float, float, float], list[dict]]:
    """(per-channel input means, layers from the input to the output) of the serialised network."""
    r = _Reader(data)
    r.version(1)
    if r.name("loss_metric_", "loss_metric_2") == "loss_metric_2":
        r.float(), r.float()  # margin, distance threshold (training only)
    structure = _structure()
    versions = [
        r.version(2, 3) if i == len(structure) - 1 else r.version(1) if layer[0] in ("tag", "skip") else r.version(1, 2)
        for i, layer in enumerate(structure)
    ]
    r.name("input_rgb_image_sized")
    means = (r.float(), r.float(), r.float())
    if (r.int(), r.int()) != (150, 150):
        raise DlibFormatError("an input size other than 150x150")
    layers = []
    for i, layer, version in reversed(list(zip(range(len(structure)), structure, versions))):
        if layer[0] in ("tag", "skip"):
            layers.append({"kind": layer[0]})
            continue
        layers.append(_read_details(r, layer))
        r.bool(), r.bool(), r.bool()  # training state
        r.tensor(), r.tensor()  # gradient and cached output buffers
        if i == len(structure) - 1:  # the layer on the input
            r.tensor()
            if version == 3:
                r.int()
        elif version == 2:
            r.tensor()
    if r.pos != len(data):
        raise DlibFormatError(f"{len(data) - r.pos} bytes left after the network")
    return means, layers


def _add_zero_padded(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: the larger size on each axis, the smaller operand zero-padded at the end."""
    if a.shape == b.shape:
        return a + b
    size = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:])]

    def pad(t):
        return F.pad(t, (0, size[2] - t.shape[3], 0, size[1] - t.shape[2], 0, size[0] - t.shape[1]))

    return pad(a) + pad(b)


class _ConvAffine(nn.Module):
    """dlib's con (with bias) then affine (gamma * x + beta per channel), folded into one conv in float64."""

    def __init__(self, con: dict, affine: dict):
        super().__init__()
        gamma = torch.from_numpy(affine["gamma"].astype(np.float64))
        weight = torch.from_numpy(con["weight"].astype(np.float64)) * gamma.view(-1, 1, 1, 1)
        bias = torch.from_numpy(con["bias"].astype(np.float64)) * gamma + torch.from_numpy(
            affine["beta"].astype(np.float64)
        )
        self.register_buffer("weight", weight.float())
        self.register_buffer("bias", bias.float())
        self.stride, self.padding = con["stride"], con["padding"]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)


class _Residual(nn.Module):
    def __init__(self, first: _ConvAffine, second: _ConvAffine, shortcut_pool: dict | None):
        super().__init__()
        self.first, self.second, self.pool = first, second, shortcut_pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.second(F.relu(self.first(x)))
        shortcut = (
            x if self.pool is None else F.avg_pool2d(x, self.pool["size"], self.pool["stride"], self.pool["padding"])
        )
        return F.relu(_add_zero_padded(shortcut, branch))


class DlibFaceResNet(nn.Module):
    """(N, 150, 150, 3) uint8 RGB face chips (dlib.get_face_chip, size 150) -> (N, 128) descriptors."""

    def __init__(self, means: tuple[float, float, float], layers: list[dict]):
        super().__init__()
        self.register_buffer("means", torch.tensor(means, dtype=torch.float32).view(1, 3, 1, 1))
        kinds = [layer["kind"] for layer in layers]
        if kinds[:4] != ["con", "affine", "relu", "max_pool"]:
            raise DlibFormatError(f"the stem is {kinds[:4]}")
        self.stem = _ConvAffine(layers[0], layers[1])
        self.stem_pool = layers[3]
        blocks, i = [], 4
        while kinds[i] == "tag":  # tag1 con affine relu con affine [tag2 skip1 avg_pool] add_prev relu
            down = kinds[i + 6] == "tag"
            blocks.append(
                _Residual(
                    _ConvAffine(layers[i + 1], layers[i + 2]),
                    _ConvAffine(layers[i + 4], layers[i + 5]),
                    layers[i + 8] if down else None,
                )
            )
            i += 11 if down else 8
        if kinds[i:] != ["avg_pool", "fc"] or layers[i]["size"] != 0:
            raise DlibFormatError(f"the head is {kinds[i:]}")
        self.blocks = nn.ModuleList(blocks)
        self.register_buffer("fc", torch.from_numpy(layers[i + 1]["weight"].copy()))

    @torch.inference_mode()
    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.permute(0, 3, 1, 2).float() - self.means) / 256.0
        x = F.max_pool2d(
            F.relu(self.stem(x)), self.stem_pool["size"], self.stem_pool["stride"], self.stem_pool["padding"]
        )
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3)) @ self.fc


def load_dlib_resnet(path: Path) -> DlibFaceResNet:
    """The network of a dlib_face_recognition_resnet_model_v1.dat file, in eval mode on the CPU."""
    from benchmark.core.errors import BenchError

    try:
        means, layers = parse(Path(path).read_bytes())
        return DlibFaceResNet(means, layers).eval()
    except (ValueError, IndexError) as exc:  # DlibFormatError, or a truncated file running off its end
        raise BenchError(
            f"{path} is not dlib's face recognition ResNet as this harness reads it ({type(exc).__name__}: {exc})",
            hint="reinstall it: pip install --force-reinstall face_recognition_models",
        ) from None
