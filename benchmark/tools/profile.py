"""`bench profile`: parameters, output size and generation speed of an adapter (thesis Table 5.2 columns).

Speed is end-to-end `generate` on one mini clip (audio front-end, encoders, generator, paste-back),
after one warm-up call, on the device asked for; CUDA work is synchronised before the clock stops.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from adapters import ADAPTERS
from benchmark.core.settings import Settings
from benchmark.core.types import GenerationRequest


def mini_request(data_dir: Path | None, frames: int | None) -> GenerationRequest:
    from protocols.mini import MiniProtocol

    mini = MiniProtocol(Settings.create(data_dir=data_dir).data_dir)
    if not mini.is_prepared():
        mini.prepare()
    return GenerationRequest.for_clip(mini.clips()[0], frames)


def profile_adapter(
    model: str,
    model_args: dict,
    device: str,
    weights: Path | None,
    data_dir: Path | None,
    frames: int | None = None,
    repeats: int = 2,
) -> dict:
    from benchmark.engine.runner import check_device

    check_device(device)
    settings = Settings.create(data_dir=data_dir, weights_dir=weights, device=device)
    adapter = ADAPTERS.get(model)(**model_args)
    adapter.bind_weights(settings.weights_dir)
    adapter.setup(settings.device)
    request = mini_request(settings.data_dir, frames)
    adapter.generate(dataclasses.replace(request, n_frames=min(8, request.n_frames)), seed=0)  # warm-up
    times = []
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        video = adapter.generate(request, seed=0)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    counts = adapter.parameter_counts()
    best = min(times)
    return {
        "model": model,
        "config": adapter.config,
        "device": device,
        "parameters": counts,
        "params_m": sum(counts.values()) / 1e6,
        "output": f"{video.size[1]}x{video.size[0]}",
        "frames": video.n_frames,
        "seconds": best,
        "fps": video.n_frames / best,
        "weights": adapter.weights(),
    }


def render(row: dict) -> str:
    parts = ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in row["parameters"].items())
    return (
        f"{row['model']}: {row['params_m']:.2f} M parameters ({parts or 'none'}); output {row['output']}; "
        f"{row['fps']:.2f} frames/s on {row['device']} ({row['frames']} frames in {row['seconds']:.2f} s, best of runs)\n"
        f"| method | params (M) | fps | output |\n|---|---|---|---|\n"
        f"| {row['model']}{' (tiny)' if row['config'].get('tiny') else ''} | {row['params_m']:.2f} | {row['fps']:.2f} | {row['output']} |"
    )
