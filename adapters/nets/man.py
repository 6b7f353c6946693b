"""A re-implementation of MAN (Kumar et al., "Multi Modal Adaptive Normalization for Audio to Video
Generation") from the paper's description. No code or weights were released: this is NOT the
authors' model, and the layer sizes below are our reading of the paper.

- Guidance predictor: a U-Net over the previous 5 frames plus an audio feature map -> the next
  frame's optical flow (MAN-optical, the paper's best GRID row) or 15 facial-contour heatmaps
  (MAN-keypoint).
- Generator: an identity-image encoder, 8 MAN ResNet blocks (2 at the bottleneck, then one per
  upsampling step and the rest at full resolution), a class-activation-map layer as the third
  last layer, and a tanh output.
- Multi-modal adaptive normalisation (eq. 1): y = Σ_k ρ_k (γ_k ⊙ IN(x) + β_k) over image,
  flow or keypoint heatmaps (2D conv + ECA), mel (LSTM), pitch and energy (one-hot, 256 bins);
  ρ = softmax of learnt logits.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ManConfig:
    size: int = 256  # output frames are size x size
    ngf: int = 64  # generator base channels
    heatmap_size: int = 96  # the paper's (15, 96, 96) heatmaps (flow at the same size)
    guidance: str = "flow"  # "flow": MAN-optical (2-channel optical flow); "keypoints": MAN-keypoint (15 heatmaps)
    n_keypoints: int = 15
    context_frames: int = 5  # previous frames the guidance predictor sees
    audio_dim: int = 256  # "256 dimensional mel spectrogram features"
    hidden: int = 128  # channels of the normalisation branches
    mel_bins: int = 80
    quant_bins: int = 256

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def guidance_channels(self) -> int:
        return self.n_keypoints if self.guidance == "keypoints" else 2


class ECA(nn.Module):
    """Efficient channel attention: a 1-D conv across pooled channels gates each channel."""

    def __init__(self, k: int = 3):
        super().__init__()
        self.conv = nn.Conv1d(1, 1, k, padding=k // 2, bias=False)

    def forward(self, x):
        g = self.conv(x.mean(dim=(2, 3))[:, None]).squeeze(1)
        return x * torch.sigmoid(g)[:, :, None, None]


class MelEncoder(nn.Module):
    """(B, 80, 16) mel window -> (B, audio_dim) via an LSTM over the 16 steps (the paper's best branch)."""

    def __init__(self, mel_bins: int, audio_dim: int):
        super().__init__()
        self.lstm = nn.LSTM(mel_bins, audio_dim, batch_first=True)

    def forward(self, mel):
        return self.lstm(mel.transpose(1, 2))[0][:, -1]


class MultiModalNorm(nn.Module):
    MODALITIES = ("image", "guidance", "mel", "pitch", "energy")

    def __init__(self, channels: int, cfg: ManConfig):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        h = cfg.hidden
        self.image = nn.Sequential(nn.Conv2d(3, h, 3, padding=1), nn.ReLU(), nn.Conv2d(h, 2 * channels, 3, padding=1))
        self.guidance = nn.Sequential(
            nn.Conv2d(cfg.guidance_channels, h, 3, padding=1),
            nn.ReLU(),
            ECA(),
            nn.Conv2d(h, 2 * channels, 3, padding=1),
        )
        self.mel = nn.Linear(cfg.audio_dim, 2 * channels)
        self.pitch = nn.Linear(cfg.quant_bins, 2 * channels)
        self.energy = nn.Linear(cfg.quant_bins, 2 * channels)
        self.rho = nn.Parameter(torch.zeros(len(self.MODALITIES)))

    def forward(self, x, cond: dict[str, torch.Tensor]):
        xn = self.norm(x)
        size = x.shape[-2:]
        params = [
            self.image(F.interpolate(cond["image"], size=size, mode="bilinear", align_corners=False)),
            self.guidance(F.interpolate(cond["guidance"], size=size, mode="bilinear", align_corners=False)),
            *(getattr(self, m)(cond[m])[:, :, None, None] for m in ("mel", "pitch", "energy")),
        ]
        rho = torch.softmax(self.rho, dim=0)
        out = 0
        for weight, p in zip(rho, params):
            gamma, beta = p.chunk(2, dim=1)
            out = out + weight * (gamma * xn + beta)
        return out


class ManResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, cfg: ManConfig, upsample: bool = False):
        super().__init__()
        self.upsample = upsample
        self.norm1, self.conv1 = MultiModalNorm(cin, cfg), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = MultiModalNorm(cout, cfg), nn.Conv2d(cout, cout, 3, padding=1)
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

    def forward(self, x, cond):
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        y = self.conv1(F.leaky_relu(self.norm1(x, cond), 0.2))
        y = self.conv2(F.leaky_relu(self.norm2(y, cond), 0.2))
        return y + self.shortcut(x)


class ClassActivationMap(nn.Module):
    """UGATIT-style CAM: channel weights from global-average and global-max logits, fused by a 1x1 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.gap_fc = nn.Linear(channels, 1, bias=False)
        self.gmp_fc = nn.Linear(channels, 1, bias=False)
        self.fuse = nn.Conv2d(2 * channels, channels, 1)

    def forward(self, x):
        gap = x * self.gap_fc.weight[:, :, None, None]
        gmp = x * self.gmp_fc.weight[:, :, None, None]
        return F.relu(self.fuse(torch.cat([gap, gmp], dim=1)))


class GuidancePredictor(nn.Module):
    """Hourglass / U-Net: previous frames (3·context channels) + audio map -> the next frame's
    keypoint heatmaps in [0, 1] (MAN-keypoint) or optical flow in [-1, 1] (MAN-optical)."""

    def __init__(self, cfg: ManConfig):
        super().__init__()
        c = max(8, cfg.ngf // 2)
        self.audio = nn.Linear(cfg.audio_dim, 16)
        cin = 3 * cfg.context_frames + 16
        self.down = nn.ModuleList(
            [nn.Conv2d(cin, c, 3, 2, 1), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.Conv2d(2 * c, 4 * c, 3, 2, 1)]
        )
        self.up = nn.ModuleList(
            [nn.Conv2d(4 * c, 2 * c, 3, 1, 1), nn.Conv2d(4 * c, c, 3, 1, 1), nn.Conv2d(2 * c, c, 3, 1, 1)]
        )
        self.out = nn.Conv2d(c, cfg.guidance_channels, 1)
        self.size = cfg.heatmap_size
        self.squash = torch.sigmoid if cfg.guidance == "keypoints" else torch.tanh

    def forward(self, frames, audio):
        x = F.interpolate(frames, size=(self.size, self.size), mode="bilinear", align_corners=False)
        a = self.audio(audio)[:, :, None, None].expand(-1, -1, self.size, self.size)
        x = torch.cat([x, a], dim=1)
        skips = []
        for conv in self.down:
            x = F.leaky_relu(conv(x), 0.2)
            skips.append(x)
        skips.pop()
        for i, conv in enumerate(self.up):
            x = F.leaky_relu(conv(F.interpolate(x, scale_factor=2, mode="nearest")), 0.2)
            if skips:
                x = torch.cat([x, skips.pop()], dim=1)
        return self.squash(self.out(x))


class ManGenerator(nn.Module):
    def __init__(self, cfg: ManConfig):
        super().__init__()
        self.cfg = cfg
        g = cfg.ngf
        self.mel_encoder = MelEncoder(cfg.mel_bins, cfg.audio_dim)
        self.guidance_predictor = GuidancePredictor(cfg)
        self.encoder = nn.Sequential(
            nn.Conv2d(3, g, 7, 1, 3),
            nn.LeakyReLU(0.2),
            nn.Conv2d(g, 2 * g, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * g, 4 * g, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(4 * g, 8 * g, 4, 2, 1),
            nn.LeakyReLU(0.2),
        )
        self.blocks = nn.ModuleList(
            [
                ManResBlock(8 * g, 8 * g, cfg),
                ManResBlock(8 * g, 8 * g, cfg),  # bottleneck (size/8)
                ManResBlock(8 * g, 4 * g, cfg, upsample=True),  # size/4
                ManResBlock(4 * g, 2 * g, cfg, upsample=True),  # size/2
                ManResBlock(2 * g, g, cfg, upsample=True),  # size
                ManResBlock(g, g, cfg),
            ]
        )
        self.cam = ClassActivationMap(g)  # the third last layer
        self.final_blocks = nn.ModuleList([ManResBlock(g, g, cfg), ManResBlock(g, g, cfg)])
        self.to_rgb = nn.Conv2d(g, 3, 7, 1, 3)

    def forward(self, identity, previous, mel, pitch, energy):
        """identity (B,3,S,S) and previous (B,3·context,S,S) in [-1,1]; mel (B,80,16); pitch/energy (B,) bins.

        Returns the next frame (B,3,S,S) in [-1,1] and the predicted guidance (heatmaps or flow).
        """
        audio = self.mel_encoder(mel)
        guidance = self.guidance_predictor(previous, audio)
        cond = {
            "image": identity,
            "guidance": guidance,
            "mel": audio,
            "pitch": F.one_hot(pitch, self.cfg.quant_bins).to(identity.dtype),
            "energy": F.one_hot(energy, self.cfg.quant_bins).to(identity.dtype),
        }
        x = self.encoder(identity)
        for block in self.blocks:
            x = block(x, cond)
        x = self.cam(x)
        for block in self.final_blocks:
            x = block(x, cond)
        return torch.tanh(self.to_rgb(x)), guidance
