"""`mocogan-hd`: MoCoGAN-HD (Tian et al. 2021), the motion-without-speech baseline. Audio is ignored.

Official files: the motion generator `modelR_epoch_N.pth`, `pca_comp.npy` / `pca_stdev.npy`
beside it, and the rosinality StyleGAN2 `g_ema` it was trained with. The same w_t drives every
layer, as in the official sampler.

Identity: MoCoGAN-HD has no inversion, so the identity image is projected into W by
optimisation (documented here because it shapes the numbers): start from the mean of 4096
mapped z, Adam (lr 0.05) on the pixel MSE between G(w) and the identity image, both average-
pooled to 64², for `project_steps` steps (default 100; `--model-args project_steps=N`), with
the generator's fixed noise. The driving noise e_t is seeded by the clip seed on the CPU, so a
seed gives the same motion on every device.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from adapters.base import Capabilities
from adapters.nets.mocogan import MotionGenerator, pca_basis
from adapters.nets.stylegan2 import Generator, tiny_channels
from adapters.neural import NeuralAdapter, generate_in_batches, image_to_tensor
from adapters.official_formats import load_mocogan_motion, load_npy, load_rosinality_checkpoint
from benchmark.core.errors import BenchError
from benchmark.core.types import GenerationRequest, Video

PROJECT_SIZE, PROJECT_LR = 64, 0.05


def project_to_w(generator: Generator, image: torch.Tensor, steps: int, w_start: torch.Tensor) -> torch.Tensor:
    """(1, 3, S, S) in [-1, 1] -> w (1, 512) minimising pooled pixel MSE (see module docstring)."""
    target = F.adaptive_avg_pool2d(image, PROJECT_SIZE)
    w = w_start.clone().requires_grad_(True)
    optimiser = torch.optim.Adam([w], lr=PROJECT_LR)
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad()
            loss = F.mse_loss(F.adaptive_avg_pool2d(generator(w), PROJECT_SIZE), target)
            loss.backward()
            optimiser.step()
    return w.detach()


class MocoganHdAdapter(NeuralAdapter):
    name = "mocogan-hd"
    description = (
        "MoCoGAN-HD (Tian et al. 2021): LSTM motion in StyleGAN2's W, identity projected into W; ignores audio"
    )
    capabilities = Capabilities(
        uses_audio=False, uses_identity=True, uses_reference_frames=False, resize_to_reference=True
    )
    options = {"project_steps": "Adam steps projecting the identity image into W (default 100)"}

    def build(self, paths):
        if paths is None:
            generator = Generator(64, 512, n_mlp=2, channels=tiny_channels(16))
            motion = MotionGenerator()
            comp, stdev = torch.linalg.qr(torch.randn(512, 512))[0].T, torch.rand(512)
        else:
            generator = load_rosinality_checkpoint(paths["generator"])
            motion = load_mocogan_motion(paths["motion"])
            comp = torch.from_numpy(load_npy(paths["pca_comp"], "(512, 512)")).float()
            stdev = torch.from_numpy(load_npy(paths["pca_stdev"], "(512,)")).float()
            if (
                comp.ndim != 2
                or comp.shape[0] < motion.h_dim
                or comp.shape[1] != motion.z_dim
                or stdev.shape[0] < motion.h_dim
            ):
                raise BenchError(
                    f"{paths['pca_comp']} / {paths['pca_stdev']}: shapes {tuple(comp.shape)} / {tuple(stdev.shape)}, "
                    f"expected ({motion.z_dim}, {motion.z_dim}) and ({motion.z_dim},)"
                )
        self.basis = pca_basis(comp, stdev, motion.h_dim)
        return {"generator": generator, "motion": motion}

    def setup(self, device: str) -> None:
        super().setup(device)
        self.basis = self.basis.to(device)
        self.w_mean = self.nets["generator"].mean_latent(4096)

    def native_size(self):
        g = self.nets.get("generator")
        return (g.size, g.size) if g is not None else None

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        generator, motion = self.nets["generator"], self.nets["motion"]
        steps = int(self.config.get("project_steps", 100))
        w0 = project_to_w(generator, image_to_tensor(request.identity, generator.size, self.device), steps, self.w_mean)
        with torch.no_grad():
            noise = torch.Generator().manual_seed(seed)
            latents = motion.trajectory(w0, request.n_frames, self.basis, noise)[0]  # (T, 512)
        return Video(np.ascontiguousarray(generate_in_batches(generator, latents)), request.fps)
