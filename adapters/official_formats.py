"""Readers for the official checkpoint files the adapters accept, each checked key by key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adapters.nets.mocogan import MotionGenerator
from adapters.nets.psp import GradualStyleEncoder, encoder_from_state_dict
from adapters.nets.stylegan2 import Generator, generator_from_state_dict
from adapters.nets.wav2lip import Wav2Lip
from benchmark.core.checkpoints import load_strict, load_torch_file, strip_module_prefix, sub_state_dict
from benchmark.core.errors import BenchError


def _as_float32(state: dict) -> dict:
    return {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}


def _require(ckpt, key: str, path: Path, what: str):
    if not isinstance(ckpt, dict) or key not in ckpt:
        found = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise BenchError(f"{path}: not {what}: no {key!r} entry (found {found})")
    return ckpt[key]


def stylegan2_generator(state: dict, path: Path, prefix: str = "") -> Generator:
    """A rosinality Generator shaped like `state` (keys under `prefix`), loaded strictly."""
    sub = _as_float32(sub_state_dict(state, prefix))
    try:
        generator = generator_from_state_dict(sub)
    except (KeyError, IndexError) as exc:
        raise BenchError(
            f"{path}: missing key {prefix + str(exc).strip(chr(39))!r}: not a rosinality StyleGAN2 generator"
        ) from exc
    return load_strict(generator, sub, path, "rosinality StyleGAN2 generator", prefix)


def load_rosinality_checkpoint(path: Path) -> Generator:
    """`{g_ema, latent_avg}` (converted) or a training checkpoint `{g, d, g_ema, ...}`: g_ema is used."""
    ckpt = load_torch_file(path, "a rosinality StyleGAN2 checkpoint")
    return stylegan2_generator(_require(ckpt, "g_ema", path, "a rosinality StyleGAN2 checkpoint"), path)


def load_psp(path: Path) -> tuple[GradualStyleEncoder, Generator, torch.Tensor]:
    """pSp `{state_dict: encoder.* + decoder.*, opts, latent_avg}` -> (encoder, decoder, latent_avg (n_styles, 512))."""
    ckpt = load_torch_file(path, "a pSp checkpoint", hint="use psp_ffhq_encode.pt from eladrich/pixel2style2pixel")
    state = _as_float32(strip_module_prefix(_require(ckpt, "state_dict", path, "a pSp checkpoint")))
    if "encoder.input_layer.0.weight" not in state:
        raise BenchError(
            f"{path}: missing key 'encoder.input_layer.0.weight': not a pSp GradualStyleEncoder checkpoint"
        )
    encoder = load_strict(
        encoder_from_state_dict(state),
        sub_state_dict(state, "encoder."),
        path,
        "pSp GradualStyleEncoder(50, 'ir_se')",
        "encoder.",
    )
    decoder = stylegan2_generator(state, path, "decoder.")
    latent_avg = _require(ckpt, "latent_avg", path, "a pSp checkpoint with start_from_latent_avg").float()
    latent_avg = latent_avg.reshape(-1, latent_avg.shape[-1])
    if latent_avg.shape[0] not in (1, encoder.n_styles) or latent_avg.shape[1] != 512:
        raise BenchError(
            f"{path}: latent_avg has shape {tuple(ckpt['latent_avg'].shape)}, expected (512,) or ({encoder.n_styles}, 512)"
        )
    if encoder.n_styles != decoder.n_latent:
        raise BenchError(
            f"{path}: the encoder predicts {encoder.n_styles} styles but the {decoder.size}px decoder takes {decoder.n_latent}"
        )
    return encoder, decoder, latent_avg.expand(encoder.n_styles, -1).clone()


def load_wav2lip(path: Path, width: float = 1.0) -> Wav2Lip:
    """Official `{state_dict, optimizer, global_step, global_epoch}`, keys with or without `module.`."""
    ckpt = load_torch_file(
        path, "a Wav2Lip checkpoint", hint="use wav2lip.pth or wav2lip_gan.pth from Rudrabha/Wav2Lip"
    )
    state = _as_float32(strip_module_prefix(_require(ckpt, "state_dict", path, "a Wav2Lip checkpoint")))
    return load_strict(Wav2Lip(width), state, path, "Wav2Lip generator")


def load_mocogan_motion(path: Path) -> MotionGenerator:
    """`modelR_epoch_N.pth`: a plain state_dict (with or without `module.`)."""
    state = load_torch_file(path, "a MoCoGAN-HD motion generator state_dict")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = _as_float32(strip_module_prefix(state if isinstance(state, dict) else {}))
    if "w" not in state:
        raise BenchError(f"{path}: missing key 'w': not a MoCoGAN-HD modelR state_dict")
    h_dim = int(state["w"].shape[0])
    z_dim = int(state["fc2.weight"].shape[0]) if "fc2.weight" in state else 512
    return load_strict(MotionGenerator(z_dim, h_dim), state, path, "MoCoGAN-HD motion generator")


def load_npy(path: Path, shape_hint: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except Exception as exc:
        raise BenchError(
            f"{path}: cannot be read as a .npy array ({type(exc).__name__}); expected {shape_hint}"
        ) from exc
