"""CPBD: our batched re-implementation vs the `cpbd` package, on the same frames, same process.

Prints agreement (max |difference|) and per-frame times; the ratio is only meaningful between
numbers measured here together.
"""

from __future__ import annotations

import os
import time

import numpy as np

from benchmark.core.errors import BenchError


def benchmark_frames(size: int, count: int) -> np.ndarray:
    """Real grey frames: crops of the astronaut photo at several scales, resized to size x size."""
    from PIL import Image
    from skimage import data

    photo = Image.fromarray(data.astronaut())
    frames = []
    for k in range(count):
        crop = 200 + (k * 37) % 312
        x0, y0 = (k * 53) % (512 - crop + 1), (k * 29) % (512 - crop + 1)
        frames.append(np.asarray(photo.crop((x0, y0, x0 + crop, y0 + crop)).resize((size, size), Image.BICUBIC)))
    return np.stack(frames)


def _time_per_frame(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def run(size: int = 256, frames: int = 16, reference_frames: int = 8, device: str = "cpu", echo=print) -> dict:
    try:
        import cpbd as reference
    except ImportError as exc:
        raise BenchError("the reference implementation is not installed", hint="pip install cpbd-py312==1.0.3") from exc
    from metrics.cpbd import cpbd_video, rgb_to_luma

    rgb = benchmark_frames(size, frames)
    gray = rgb_to_luma(rgb)
    ref_values = np.array([reference.compute(g) for g in gray[:reference_frames]])
    ours = cpbd_video(rgb, workers=1)
    agreement = float(np.abs(ours[:reference_frames] - ref_values).max())
    t_ref = _time_per_frame(lambda: [reference.compute(g) for g in gray[:reference_frames]], 1) / reference_frames
    t_one = _time_per_frame(lambda: cpbd_video(rgb, workers=1), 3) / frames
    t_numpy = _time_per_frame(lambda: cpbd_video(rgb, workers=1, compiled=False), 3) / frames
    workers = os.cpu_count() or 1
    t_all = _time_per_frame(lambda: cpbd_video(rgb, workers=workers), 3) / frames
    result = {
        "size": size,
        "frames": frames,
        "max_abs_difference": agreement,
        "reference_ms_per_frame": 1000 * t_ref,
        "ours_1_thread_ms_per_frame": 1000 * t_one,
        f"ours_{workers}_threads_ms_per_frame": 1000 * t_all,
        "numpy_only_1_thread_ms_per_frame": 1000 * t_numpy,
        "speedup_1_thread": t_ref / t_one,
        f"speedup_{workers}_threads": t_ref / t_all,
    }
    echo(f"CPBD at {size}x{size}, {frames} frames (reference timed on {reference_frames}):")
    echo(f"  agreement with cpbd-py312: max |ours - reference| = {agreement:.2e} over {reference_frames} frames")
    echo(f"  reference cpbd.compute  {1000 * t_ref:8.2f} ms/frame")
    echo(
        f"  ours, numpy steps only  {1000 * t_numpy:8.2f} ms/frame   {t_ref / t_numpy:6.1f}x   (1 thread; the fallback without numba)"
    )
    echo(f"  ours, 1 thread          {1000 * t_one:8.2f} ms/frame   {t_ref / t_one:6.1f}x")
    echo(f"  ours, {workers} threads         {1000 * t_all:8.2f} ms/frame   {t_ref / t_all:6.1f}x")
    if device.startswith("cuda"):
        result.update(_cuda(rgb, gray, ref_values, reference_frames, echo))
    return result


def _cuda(rgb, gray, ref_values, reference_frames, echo) -> dict:
    import torch

    from metrics.cpbd_torch import cpbd_frames_torch

    if not torch.cuda.is_available():
        raise BenchError("--device cuda: torch sees no CUDA device", hint="run on a GPU machine or use --device cpu")
    x = torch.from_numpy(gray).cuda()
    cpbd_frames_torch(x[:2])  # warm-up
    values = cpbd_frames_torch(x).cpu().numpy()
    torch.cuda.synchronize()
    t = _time_per_frame(lambda: (cpbd_frames_torch(x), torch.cuda.synchronize()), 3) / len(gray)
    diff = float(np.abs(values[:reference_frames] - ref_values).max())
    echo(f"  CUDA ({torch.cuda.get_device_name()}): {1 / t:8.0f} frames/s, max |cuda - reference| = {diff:.2e}")
    return {"cuda_frames_per_s": 1 / t, "cuda_max_abs_difference": diff}
