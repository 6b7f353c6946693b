"""`man` / `man-keypoint`: our re-implementation of MAN (Kumar et al. 2020) from the paper.

**This is not the authors' model.** They released no code and no weights; the architecture in
adapters/nets/man.py is our reading of the paper, and numbers from it are numbers for this
re-implementation with whatever weights you trained. `man` is the MAN-optical variant (optical-flow
guidance, the paper's best GRID row), `man-keypoint` the keypoint-heatmap variant.

Audio: 80-bin mel window (200 ms, centred on the frame), F0 and frame energy quantised to 256
one-hot bins (frame 1024 / hop 256 at 16 kHz as the paper says; F0 by normalised autocorrelation
instead of PyWorld). Frames are generated one at a time, each conditioned on the previous five
(the identity image before there are five).

Checkpoint (`man.pt`, docs/adapters.md): {"format": "talking-head-bench/man-v1", "config":
ManConfig fields, "state_dict": ManGenerator state_dict}.
"""

from __future__ import annotations

import numpy as np
import torch

from adapters.audio_features import man_features, to_16k
from adapters.base import Capabilities
from adapters.nets.man import ManConfig, ManGenerator
from adapters.neural import NeuralAdapter, image_to_tensor, to_uint8_rgb
from benchmark.core.checkpoints import load_strict, load_torch_file, require_format
from benchmark.core.errors import BenchError
from benchmark.core.types import GenerationRequest, Video

MAN_FORMAT = "talking-head-bench/man-v1"
TINY = dict(size=64, ngf=8, heatmap_size=32, hidden=16, audio_dim=32)


def load_man_checkpoint(path, guidance: str) -> ManGenerator:
    ckpt = require_format(
        load_torch_file(path, f"a {MAN_FORMAT} checkpoint", hint="see docs/adapters.md for the format"),
        MAN_FORMAT,
        path,
        ("config", "state_dict"),
    )
    try:
        cfg = ManConfig(**ckpt["config"])
    except TypeError as exc:
        raise BenchError(f"{path}: config does not fit ManConfig: {exc}") from exc
    if cfg.guidance != guidance:
        raise BenchError(
            f"{path}: a {cfg.guidance!r}-guided MAN checkpoint, but this adapter is the {guidance!r} variant",
            hint="use `--model man` for flow, `--model man-keypoint` for keypoints",
        )
    return load_strict(ManGenerator(cfg), ckpt["state_dict"], path, "MAN re-implementation")


def man_checkpoint(net: ManGenerator) -> dict:
    return {"format": MAN_FORMAT, "config": net.cfg.to_dict(), "state_dict": net.state_dict()}


class ManAdapter(NeuralAdapter):
    name = "man"
    guidance = "flow"
    description = "MAN-optical, OUR re-implementation from the paper (not the authors' model; none was released)"
    capabilities = Capabilities(
        uses_audio=True, uses_identity=True, uses_reference_frames=False, resize_to_reference=True
    )

    def build(self, paths):
        if paths is None:
            return {"generator": ManGenerator(ManConfig(guidance=self.guidance, **TINY))}
        return {"generator": load_man_checkpoint(paths["man"], self.guidance)}

    def native_size(self):
        g = self.nets.get("generator")
        return (g.cfg.size, g.cfg.size) if g is not None else None

    @torch.no_grad()
    def generate(self, request: GenerationRequest, seed: int) -> Video:
        net = self.nets["generator"]
        cfg, dev = net.cfg, self.device
        feats = man_features(to_16k(request.audio, request.sample_rate), request.n_frames, request.fps)
        mel = torch.from_numpy(feats["mel"]).to(dev)
        pitch, energy = torch.from_numpy(feats["pitch"]).to(dev), torch.from_numpy(feats["energy"]).to(dev)
        identity = image_to_tensor(request.identity, cfg.size, dev)
        history = [identity] * cfg.context_frames
        frames = []
        for t in range(request.n_frames):
            frame, _ = net(
                identity,
                torch.cat(history[-cfg.context_frames :], dim=1),
                mel[t : t + 1],
                pitch[t : t + 1],
                energy[t : t + 1],
            )
            history.append(frame)
            frames.append(to_uint8_rgb(frame))
        return Video(np.concatenate(frames), request.fps)


class ManKeypointAdapter(ManAdapter):
    name = "man-keypoint"
    guidance = "keypoints"
    description = "MAN-keypoint, OUR re-implementation from the paper (not the authors' model; none was released)"
