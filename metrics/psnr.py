"""PSNR (thesis eq. 5.1-5.2): per frame over RGB, data range 255, mean over frames."""

from __future__ import annotations

import torch

from metrics.context import ClipContext
from metrics.base import ClipValue, Metric, frame_chunks, frames_to_tensor


def psnr_per_frame(generated: torch.Tensor, reference: torch.Tensor, data_range: float, cap_db: float) -> torch.Tensor:
    """(T, C, H, W) float on a 0..data_range scale -> (T,) dB; identical frames give `cap_db`, never inf."""
    mse = (generated - reference).pow(2).flatten(1).mean(dim=1)
    psnr = 10.0 * torch.log10(data_range**2 / mse.clamp_min(torch.finfo(mse.dtype).tiny))
    return torch.where(mse == 0, torch.full_like(psnr, cap_db), psnr.clamp(max=cap_db))


class PSNR(Metric):
    name = "psnr"
    direction = "higher"
    unit = "dB"
    description = "Peak signal-to-noise ratio per RGB frame (MSE over C*H*W, range 255), mean over frames"
    default_params = {"data_range": 255.0, "color": "rgb", "cap_db": 100.0, "reduction": "mean-over-frames"}

    chunk_frames = 32

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated, reference = ctx.generated, ctx.reference
        values = []
        for part in frame_chunks(generated.n_frames, self.chunk_frames):
            g = frames_to_tensor(generated.frames[part], self.device)
            r = frames_to_tensor(reference[part], self.device)
            values.append(psnr_per_frame(g, r, self.params["data_range"], self.params["cap_db"]))
        per_frame = torch.cat(values)
        capped = int((per_frame >= self.params["cap_db"]).sum())
        return ClipValue(float(per_frame.mean()), extras={"frames_at_cap": capped})
