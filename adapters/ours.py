"""`ours`: the latent-trajectory model, second version (Alghamdi et al., ACM MM 2022; thesis §4.3).

identity image -> pSp -> w_I ∈ W+; MFCC windows -> audio encoder -> e_t; [PCA coefficients of
w_I, e_t] -> latent decoder -> h_t; w_t = w_I + h_t·V (eq. 4.3); frame_t = G(w_t).

Files (`bench weights`): the official pSp FFHQ encoder checkpoint (its `decoder.*` is the FFHQ
StyleGAN2 G) and `ours_second.pt`, our documented format for the parts the authors never released
(docs/adapters.md). `--model-args generator=FILE` swaps in a stage-2 (PTI-tuned) rosinality
generator. Identity images are FFHQ-aligned already (every protocol's preparation does it), so they
only need resizing to pSp's 256². Inference has no randomness: the seed does not matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from adapters.audio_features import mfcc_windows, to_16k
from adapters.base import Capabilities
from adapters.nets.latent_trajectory import AudioEncoder, LatentDecoder
from adapters.nets.psp import GradualStyleEncoder
from adapters.nets.stylegan2 import Generator, tiny_channels
from adapters.neural import NeuralAdapter, generate_in_batches, image_to_tensor
from adapters.official_formats import load_psp, load_rosinality_checkpoint
from benchmark.core.checkpoints import load_strict, load_torch_file, require_format
from benchmark.core.errors import BenchError
from benchmark.core.types import GenerationRequest, Video

OURS_FORMAT = "talking-head-bench/ours-second-v1"
PSP_INPUT = 256
TINY_MOTION_GAIN = 3000.0


class PcaBasis(nn.Module):
    """The W+ PCA basis V (K, n_latent·512) and its mean, as buffers so they move with the model."""

    def __init__(self, components: torch.Tensor, mean: torch.Tensor):
        super().__init__()
        self.register_buffer("components", components.float())
        self.register_buffer("mean", mean.float())

    def project(self, w_plus: torch.Tensor) -> torch.Tensor:
        return (w_plus.flatten(1) - self.mean) @ self.components.T

    def displacement(self, h: torch.Tensor, n_latent: int) -> torch.Tensor:
        return (h @ self.components).reshape(*h.shape[:-1], n_latent, -1)


def load_ours_checkpoint(path: Path, n_latent: int) -> tuple[AudioEncoder, LatentDecoder, PcaBasis]:
    ckpt = require_format(
        load_torch_file(path, f"an {OURS_FORMAT} checkpoint", hint="see docs/adapters.md for the format"),
        OURS_FORMAT,
        path,
        ("config", "audio_encoder", "latent_decoder", "pca_components", "pca_mean"),
    )
    components, mean = ckpt["pca_components"], ckpt["pca_mean"]
    if components.ndim != 2 or components.shape[1] != n_latent * 512 or tuple(mean.shape) != (n_latent * 512,):
        raise BenchError(
            f"{path}: PCA basis {tuple(components.shape)} / mean {tuple(mean.shape)} do not fit a "
            f"{n_latent}x512 W+ (expected (K, {n_latent * 512}) and ({n_latent * 512},))"
        )
    k = int(components.shape[0])
    audio = load_strict(
        AudioEncoder(width=float(ckpt["config"].get("audio_width", 1.0))),
        ckpt["audio_encoder"],
        path,
        "latent-trajectory audio encoder",
        "audio_encoder.",
    )
    decoder = load_strict(
        LatentDecoder(n_components=k), ckpt["latent_decoder"], path, "latent decoder", "latent_decoder."
    )
    return audio, decoder, PcaBasis(components, mean)


def ours_checkpoint(audio: AudioEncoder, decoder: LatentDecoder, basis: PcaBasis, audio_width: float = 1.0) -> dict:
    """The dict `load_ours_checkpoint` reads (what a training script saves)."""
    return {
        "format": OURS_FORMAT,
        "config": {"audio_width": audio_width},
        "audio_encoder": audio.state_dict(),
        "latent_decoder": decoder.state_dict(),
        "pca_components": basis.components.cpu(),
        "pca_mean": basis.mean.cpu(),
    }


def random_orthonormal_basis(k: int, dim: int) -> torch.Tensor:
    q, _ = torch.linalg.qr(torch.randn(dim, k))
    return q.T.contiguous()


class OursAdapter(NeuralAdapter):
    name = "ours"
    description = "Latent-trajectory model (thesis ch. 4, second model): pSp + MFCC CNN-LSTM + PCA decoder on StyleGAN2"
    capabilities = Capabilities(
        uses_audio=True, uses_identity=True, uses_reference_frames=False, resize_to_reference=True
    )
    options = {"generator": "a stage-2 (PTI-tuned) rosinality StyleGAN2 file replacing pSp's decoder"}

    def build(self, paths):
        if paths is None:  # tiny: a 64² generator, narrow encoder, 32 PCA components
            generator = Generator(64, 512, n_mlp=2, channels=tiny_channels(16))
            encoder = GradualStyleEncoder(n_styles=generator.n_latent, width=16)
            latent_avg = generator.mean_latent(256).expand(generator.n_latent, -1).clone()
            audio, decoder = AudioEncoder(width=0.125), LatentDecoder(n_components=32)
            with torch.no_grad():  # random LSTMs barely vary over time: amplify so speech visibly moves the tiny face
                decoder.net[-1].weight.mul_(TINY_MOTION_GAIN)
            basis = PcaBasis(
                random_orthonormal_basis(32, generator.n_latent * 512), torch.zeros(generator.n_latent * 512)
            )
        else:
            encoder, generator, latent_avg = load_psp(paths["psp"])
            if self.config.get("generator"):
                generator = load_rosinality_checkpoint(Path(self.config["generator"]).expanduser())
                if generator.n_latent != encoder.n_styles:
                    raise BenchError(
                        f"{self.config['generator']}: a {generator.size}px generator does not match pSp's {encoder.n_styles} styles"
                    )
            audio, decoder, basis = load_ours_checkpoint(paths["ours"], generator.n_latent)
        self.latent_avg = latent_avg
        return {
            "encoder": encoder,
            "generator": generator,
            "audio_encoder": audio,
            "latent_decoder": decoder,
            "pca": basis,
        }

    def setup(self, device: str) -> None:
        super().setup(device)
        self.latent_avg = self.latent_avg.to(device)

    def native_size(self):
        g = self.nets.get("generator")
        return (g.size, g.size) if g is not None else (64, 64) if self.tiny else (1024, 1024)

    @torch.no_grad()
    def generate(self, request: GenerationRequest, seed: int) -> Video:
        nets, dev = self.nets, self.device
        identity = image_to_tensor(request.identity, PSP_INPUT, dev)
        w_identity = nets["encoder"](identity) + self.latent_avg[None]  # (1, L, 512)
        windows = torch.from_numpy(
            mfcc_windows(to_16k(request.audio, request.sample_rate), request.n_frames, request.fps)
        )
        audio = nets["audio_encoder"](windows[None].to(dev))  # (1, T, 256)
        h = nets["latent_decoder"](nets["pca"].project(w_identity), audio)  # (1, T, K)
        generator = nets["generator"]
        latents = w_identity + nets["pca"].displacement(h, generator.n_latent)[0]  # (T, L, 512)
        frames = generate_in_batches(generator, latents)
        return Video(np.ascontiguousarray(frames), request.fps)
