"""Loading checkpoints safely and strictly: weights_only=True, and every wrong key named.

A user pointing the harness at the wrong file should read which key is missing, unexpected or
mis-shaped, not a 200-line traceback from inside torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmark.core.errors import BenchError


def load_torch_file(path: Path, what: str, hint: str | None = None) -> Any:
    """torch.load with weights_only=True on the CPU; a non-loadable file is a BenchError naming it and why."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # the file asks to run code (a pickled object, not tensors) or is no pickle
        reason = unpickling_reason(exc)
        if reason.lower().startswith(_NOT_A_PICKLE):
            raise BenchError(
                f"{path}: cannot be read as {what} with torch.load(weights_only=True): not a torch file ({reason})",
                hint=hint or f"check that it is {what}",
            ) from None
        raise BenchError(
            f"{path}: refused to load {what} with torch.load(weights_only=True): it holds more than tensors ({reason})",
            hint=f"{hint or 'use the official file'}; never load an untrusted file with "
            "weights_only=False (re-save only its state_dict of tensors from a copy you trust)",
        ) from None
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise BenchError(
            f"{path}: cannot be read as {what} with torch.load(weights_only=True) ({type(exc).__name__}: {reason})",
            hint=hint or f"check that it is {what}",
        ) from None


_NOT_A_PICKLE = ("unsupported operand", "invalid load key", "could not find mark", "unpickling stack underflow")
_BOILERPLATE = (
    "weights only load failed",
    "check the documentation",
    "re-running `torch.load`",
    "(1)",
    "(2)",
    "please file an issue",
    "you can use the following",
    "in pytorch 2.6",
)


def unpickling_reason(exc: Exception) -> str:
    """What torch's weights_only refusal refused (its first sentence), without its advice to unpickle anyway."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:  # torch 2.4-2.6: the reason follows this marker, often on the advice's own line
        text = text.split(marker, 1)[1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if line and not line.lower().startswith(_BOILERPLATE):
            return line.split(". ", 1)[0].rstrip(".")
    return lines[0].rstrip(".") if lines else type(exc).__name__


def sub_state_dict(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The keys under `prefix` (e.g. pSp's `encoder.`), with the prefix removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def strip_module_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Checkpoints saved from nn.DataParallel carry `module.` on every key; accept both forms."""
    return {k.removeprefix("module."): v for k, v in state.items()}


def check_state_dict(
    expected: dict[str, torch.Tensor], state: dict, path: Path | str, what: str, prefix: str = ""
) -> None:
    """Raise a BenchError naming the first missing, mis-shaped or unexpected key (and how many there are)."""
    if not isinstance(state, dict):
        raise BenchError(f"{path}: expected a state_dict (dict of tensors) for {what}, found {type(state).__name__}")
    optional = {k for k in expected if k.endswith("num_batches_tracked")}  # absent before PyTorch 0.4.1
    missing = [k for k in expected if k not in state and k not in optional]
    if missing:
        raise BenchError(
            f"{path}: missing key {prefix + missing[0]!r} ({len(missing)} missing in all); an official {what} has it"
        )
    for key, tensor in expected.items():
        if key in state and tuple(state[key].shape) != tuple(tensor.shape):
            raise BenchError(
                f"{path}: key {prefix + key!r} has shape {tuple(state[key].shape)}, "
                f"{what} expects {tuple(tensor.shape)}"
            )
    extra = sorted(set(state) - set(expected))
    if extra:
        raise BenchError(
            f"{path}: unexpected key {prefix + extra[0]!r} ({len(extra)} unexpected in all) — not a {what} state_dict"
        )


def load_strict(module: nn.Module, state: dict, path: Path | str, what: str, prefix: str = "") -> nn.Module:
    """Check then load `state` into `module`; returns the module in eval mode."""
    check_state_dict(module.state_dict(), state, path, what, prefix)
    module.load_state_dict(state, strict=False)  # strictness checked above, minus num_batches_tracked
    return module.eval()


def require_format(ckpt, expected: str, path: Path | str, keys: tuple[str, ...] = ()) -> dict:
    """A checkpoint in one of this harness's documented formats: its `format` tag and required keys present."""
    if not isinstance(ckpt, dict) or ckpt.get("format") != expected:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise BenchError(
            f"{path}: format is {found!r}, expected {expected!r}", hint="see docs/adapters.md for the format"
        )
    for key in keys:
        if key not in ckpt:
            raise BenchError(f"{path}: missing key {key!r} (an {expected} checkpoint has it; docs/adapters.md)")
    return ckpt
