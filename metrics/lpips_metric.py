"""LPIPS: learned perceptual distance between each generated frame and its ground-truth frame.

`lpips` is v0.1 on AlexNet (the package's and most papers' default); `lpips-vgg` is v0.1 on VGG16
(the variant some papers report instead: the two differ by a factor, never compare them). Frames
are compared at the protocol's resolution with no resize, RGB mapped to [-1, 1] (x / 127.5 - 1),
the range the lpips package expects; mean over frames, then over clips. The backbone is the
user's torchvision checkpoint, the heads are the lpips package's (benchmark/perception/lpips_net.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from metrics.base import ClipValue, Metric, frame_chunks, frames_to_tensor
from metrics.context import ClipContext


@lru_cache(maxsize=None)
def lpips_network(net: str, device: str, weights_dir: Path):
    """One shared network per (backbone, device, weights folder)."""
    from benchmark.perception.lpips_net import LPIPSNet

    return LPIPSNet(net, weights_dir).to(device)


class LPIPS(Metric):
    name = "lpips"
    direction = "lower"
    backend = "lpips v0.1 heads (lpips package) on a torchvision backbone (user weights: torchvision/*.pth)"
    description = "Learned perceptual image patch similarity (v0.1) per frame against the ground truth, mean over frames"
    default_params = {"net": "alex", "version": "0.1", "input_range": "[-1, 1] (x / 127.5 - 1)",
                      "resolution": "the protocol's frames, no resize", "reduction": "mean over frames, then clips"}
    variants = {"lpips-vgg": {"net": "vgg"}}
    features = ("frames",)

    chunk_frames = 16

    def network(self):
        return lpips_network(self.params["net"], str(self.device), Path(self.settings.weights_dir).expanduser().resolve())

    @classmethod
    def check(cls, settings, params) -> None:
        cls.backend_for(settings, params)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        net = lpips_network(params["net"], str(torch.device(settings.device)), Path(settings.weights_dir).expanduser().resolve())
        return f"lpips-v0.1-{params['net']} heads {net.heads_sha256[:12]}, backbone {net.backbone_sha256[:12]}"

    @torch.inference_mode()
    def score_clip(self, ctx: ClipContext) -> ClipValue:
        net, generated, reference = self.network(), ctx.generated.frames, ctx.reference
        values = []
        for part in frame_chunks(len(generated), self.chunk_frames):
            a = frames_to_tensor(generated[part], self.device, torch.float32) / 127.5 - 1.0
            b = frames_to_tensor(reference[part], self.device, torch.float32) / 127.5 - 1.0
            values.append(net(a, b).double().cpu().numpy())
        return ClipValue(float(np.concatenate(values).mean()))
