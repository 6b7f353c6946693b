"""Random weights in each adapter's official file format, for exercising the real loading code
when the real files are not at hand (tests, `scripts/make_random_weights.py`).

The numbers are meaningless; the containers, key names and shapes are the official ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from adapters.man import man_checkpoint
from adapters.nets.latent_trajectory import AudioEncoder, LatentDecoder
from adapters.nets.man import ManConfig, ManGenerator
from adapters.nets.mocogan import MotionGenerator
from adapters.nets.psp import GradualStyleEncoder
from adapters.nets.stylegan2 import Generator
from adapters.nets.wav2lip import Wav2Lip
from adapters.ours import PcaBasis, ours_checkpoint, random_orthonormal_basis


def _save(obj, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def wav2lip_file(path: Path, data_parallel: bool = True) -> Path:
    state = Wav2Lip().state_dict()
    if data_parallel:  # the released files were saved from nn.DataParallel
        state = {f"module.{k}": v for k, v in state.items()}
    return _save({"state_dict": state, "optimizer": {}, "global_step": 0, "global_epoch": 0}, path)


def stylegan2_file(path: Path, size: int) -> Path:
    g = Generator(size)
    return _save({"g_ema": g.state_dict(), "latent_avg": g.mean_latent(1024)[0]}, path)


def psp_file(path: Path, size: int, dtype=torch.float32) -> Path:
    g = Generator(size)
    enc = GradualStyleEncoder(n_styles=g.n_latent)
    state = {
        **{f"encoder.{k}": v.to(dtype) if v.is_floating_point() else v for k, v in enc.state_dict().items()},
        **{f"decoder.{k}": v for k, v in g.state_dict().items()},
    }
    opts = {"encoder_type": "GradualStyleEncoder", "output_size": size, "start_from_latent_avg": True}
    return _save(
        {"state_dict": state, "opts": opts, "latent_avg": g.mean_latent(1024).expand(g.n_latent, -1).clone()}, path
    )


def mocogan_files(folder: Path, size: int) -> None:
    _save(MotionGenerator().state_dict(), folder / "modelR.pth")
    stylegan2_file(folder / "g_ema.pt", size)
    rng = np.random.default_rng(0)
    np.save(folder / "pca_comp.npy", np.linalg.qr(rng.standard_normal((512, 512)))[0].T.astype(np.float32))
    np.save(folder / "pca_stdev.npy", np.sort(rng.uniform(0.1, 2.0, 512))[::-1].astype(np.float32))


def ours_file(path: Path, n_latent: int, components: int = 2500) -> Path:
    basis = PcaBasis(random_orthonormal_basis(components, n_latent * 512), torch.zeros(n_latent * 512))
    return _save(ours_checkpoint(AudioEncoder(), LatentDecoder(components), basis), path)


def man_file(path: Path, guidance: str = "flow", **config) -> Path:
    return _save(man_checkpoint(ManGenerator(ManConfig(guidance=guidance, **config))), path)


def write_all(root: Path, size: int = 256) -> list[Path]:
    """Every adapter's files under root/<adapter>/ (a size-`size` StyleGAN2 where the model uses one)."""
    torch.manual_seed(0)
    wav2lip_file(root / "wav2lip" / "wav2lip.pth")
    mocogan_files(root / "mocogan-hd", size)
    psp_file(root / "ours" / "psp_ffhq_encode.pt", size)
    ours_file(root / "ours" / "ours_second.pt", Generator(size).n_latent)
    man_file(root / "man" / "man.pt", "flow")
    man_file(root / "man-keypoint" / "man.pt", "keypoints")
    return sorted(p for p in root.rglob("*") if p.is_file())
