"""LPIPS: learned perceptual distance between each generated frame and its ground-truth frame.

`lpips` is v0.1 on AlexNet (the package's and most papers' default); `lpips-vgg` is v0.1 on VGG16
(the variant some papers report instead: the two differ by a factor, never compare them). Frames
are compared at the protocol's resolution with no resize, RGB mapped to [-1, 1] (x / 127.5 - 1),
the range the lpips package expects; mean over frames, then over clips. The backbone is the
user's torchvision checkpoint, the heads are the lpips package's: the network is the registered perception
backend `lpips-alex` / `lpips-vgg` (benchmark/perception/lpips_net.py).
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.perception.registry import get_network
from metrics.base import ClipValue, Metric, frame_chunks, frames_to_tensor
from metrics.context import ClipContext


class LPIPS(Metric):
    name = "lpips"
    direction = "lower"
    backend = "lpips v0.1 heads (lpips package) on a torchvision backbone (user weights: torchvision/*.pth)"
    description = (
        "Learned perceptual image patch similarity (v0.1) per frame against the ground truth, mean over frames"
    )
    default_params = {
        "net": "alex",
        "version": "0.1",
        "input_range": "[-1, 1] (x / 127.5 - 1)",
        "resolution": "the protocol's frames, no resize",
        "reduction": "mean over frames, then clips",
    }
    variants = {"lpips-vgg": {"net": "vgg"}}
    features = ("frames",)

    chunk_frames = 16

    def network(self):
        """The shared LPIPS network of this backbone on the settings' device and weights folder."""
        return get_network(f"lpips-{self.params['net']}", self.settings.device, self.settings.weights_dir)

    @classmethod
    def check(cls, settings, params) -> None:
        cls.backend_for(settings, params)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        return get_network(f"lpips-{params['net']}", settings.device, settings.weights_dir).version()

    @torch.inference_mode()
    def score_clip(self, ctx: ClipContext) -> ClipValue:
        net, generated, reference = (
            self.network(),
            ctx.feature("frames", "generated"),
            ctx.feature("frames", "reference"),
        )
        values = []
        for part in frame_chunks(len(generated), self.chunk_frames):
            a = frames_to_tensor(generated[part], self.device, torch.float32) / 127.5 - 1.0
            b = frames_to_tensor(reference[part], self.device, torch.float32) / 127.5 - 1.0
            values.append(net.distances(a, b).double().cpu().numpy())
        return ClipValue(float(np.concatenate(values).mean()))
