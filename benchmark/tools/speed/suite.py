"""`bench speed suite`: each metric and the whole suite, harness vs reference implementations, one process.

The generated video of each clip is its ground truth with seeded noise (every frame distinct, so
no metric can skip work on repeated frames, and PSNR stays finite). The harness is timed with
the ground-truth features already cached (an untimed first pass fills the cache), as every run
after a protocol's first is; each metric gets a fresh per-clip context, so its time includes
the generated video's landmarks or features. "suite" shares one context per clip across all
metrics, as a run does. References (skimage, the `cpbd` package, dlib, the same Inception run
the way pytorch-fid runs it) recompute both videos per clip, as a stand-alone evaluation script
does; slow ones are timed on a sample of frame pairs. Ratios are only meaningful between numbers
measured here together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from benchmark.core.settings import Settings

NOISE_SIGMA = 6.0  # grey levels of the seeded noise that makes the "generated" video
SAMPLE_PAIRS = 48  # frame pairs the slow references (cpbd, dlib, Inception) are timed on


@dataclass
class Line:
    metric: str
    harness_s_per_pair: float
    reference: str | None = None
    reference_s_per_pair: float | None = None
    harness_value: float | None = None
    reference_value: float | None = None
    agreement: str = ""
    # the part of reference_s_per_pair another line of the reference suite already pays (shared landmarks)
    reference_shared_s_per_pair: float = 0.0

    @property
    def ratio(self) -> float | None:
        return self.reference_s_per_pair / self.harness_s_per_pair if self.reference_s_per_pair else None


def _pairs(dataset: str, limit: int | None, settings: Settings, log):
    from benchmark.engine.worker import open_protocol
    from benchmark.core.subset import stratified_subset
    from benchmark.core.types import Video

    protocol = open_protocol(dataset, settings, log)
    clips = stratified_subset(protocol.clips(), limit, 0)
    rng = np.random.default_rng(0)
    pairs = []
    for clip in clips:
        reference = clip.load_frames()
        noisy = np.clip(reference + rng.normal(0, NOISE_SIGMA, reference.shape), 0, 255).astype(np.uint8)
        pairs.append((clip, Video(noisy, clip.fps), reference))
    cache_dir = protocol.prepared_dir / "features"
    return pairs, cache_dir


def _time_harness(metric_names, pairs, cache_dir, settings, shared: bool) -> tuple[float, dict[str, list[float]]]:
    from metrics import create_metric
    from metrics.context import ClipContext

    metrics = {name: create_metric(name, settings) for name in metric_names}
    values: dict[str, list[float]] = {name: [] for name in metric_names}
    start = time.perf_counter()
    for clip, video, reference in pairs:
        ctx = ClipContext(clip, video, reference, cache_dir=cache_dir, settings=settings)
        for name, metric in metrics.items():
            if not shared:
                ctx = ClipContext(clip, video, reference, cache_dir=cache_dir, settings=settings)
            value = metric.score_clip(ctx).value
            values[name].append(np.nan if value is None else float(value))
    return time.perf_counter() - start, values


def _time_motion_over_landmarks(names, pairs, cache_dir, settings) -> dict:
    """What the motion metrics add once a run has the clip's landmarks (both sides) and VAD intervals:
    each clip's context is given its landmarks first (timed apart), the VAD is timed apart once per
    clip, then every motion metric scores the clip in that context."""
    from benchmark.perception.vad import get_vad
    from metrics import create_metric
    from metrics.context import ClipContext

    metrics = [create_metric(name, settings) for name in names]
    backends = {m.params["landmarks"] for m in metrics}
    vads = {m.params["vad"] for m in metrics if "vad" in m.params}
    n_pairs = sum(len(reference) for _, _, reference in pairs)
    landmark_s = vad_s = added_s = 0.0
    for clip, video, reference in pairs:
        ctx = ClipContext(clip, video, reference, cache_dir=None, settings=settings)  # nothing read from a cache
        start = time.perf_counter()
        for backend in backends:
            for which in ("generated", "reference"):
                ctx.feature("landmarks", which, backend=backend)
        landmark_s += time.perf_counter() - start
        start = time.perf_counter()
        for name in vads:
            get_vad(name).speech_intervals(ctx.feature("audio"), clip.sample_rate)
        vad_s += time.perf_counter() - start
        for name in vads:
            ctx.feature("speech", vad=name)  # the same intervals into the context: not timed twice
        start = time.perf_counter()
        for metric in metrics:
            metric.score_clip(ctx)
        added_s += time.perf_counter() - start
    return {
        "added_s_per_pair": added_s / n_pairs,
        "landmarks_s_per_pair": landmark_s / n_pairs,
        "vad_s_per_clip": vad_s / len(pairs),
        "vad_s_per_pair": vad_s / n_pairs,
    }


def _sample(pairs, n: int):
    """Up to `n` (generated, reference) frame pairs spread over the clips."""
    flat = [(video.frames[t], reference[t]) for _, video, reference in pairs for t in range(len(reference))]
    step = max(1, len(flat) // n)
    return flat[::step][:n]


def _reference_psnr(pairs):
    from skimage.metrics import peak_signal_noise_ratio

    return [
        np.mean([peak_signal_noise_ratio(r, g, data_range=255) for g, r in zip(v.frames, ref)]) for _, v, ref in pairs
    ]


def _reference_ssim(pairs):
    from skimage.metrics import structural_similarity

    return [
        np.mean(
            [
                structural_similarity(
                    r, g, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255, channel_axis=-1
                )
                for g, r in zip(v.frames, ref)
            ]
        )
        for _, v, ref in pairs
    ]


def _reference_cpbd(sample):
    import cpbd
    from PIL import Image

    return [cpbd.compute(np.asarray(Image.fromarray(g).convert("L"))) for g, _ in sample]


def _reference_landmarks(sample, detector):
    """dlib's HOG detector (upsample 1) + 68-point predictor on both frames of each pair: what LMD scripts run."""
    return detector.detect(np.stack([f for pair in sample for f in pair]))


def _reference_acd_embeddings(faces, net):
    """A stand-alone ACD script's embedding step on the generated frames: dlib's ResNet descriptor one
    frame at a time from dlib68 points (face_recognition's pipeline with its 68-point model)."""
    from benchmark.perception.identity import dlib_shape

    return [
        np.asarray(net.compute_face_descriptor(np.ascontiguousarray(frame), dlib_shape(points)))
        for frame, points in faces
    ]


def _time_reference_acd(line: Line, sample, dlib68, shares_landmarks: bool) -> None:
    """A stand-alone ACD script on the generated frames: dlib68 points, then the ResNet descriptor.
    In a suite with a landmark metric, the detection is already paid for there."""
    import dlib

    from benchmark.perception.base import dlib_model_path

    frames = np.stack([g for g, _ in sample])
    detect_s, track = _timed(lambda: dlib68.detect(frames), warm=lambda: dlib68.detect(frames[:1]))
    faces = [(frames[t], track.points[t]) for t in np.nonzero(track.found)[0]]
    net = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    embed_s, _ = _timed(
        lambda: _reference_acd_embeddings(faces, net), warm=lambda: _reference_acd_embeddings(faces[:1], net)
    )
    line.reference = "dlib68 + dlib's own ResNet runtime per generated frame"
    line.reference_s_per_pair = (detect_s + embed_s) / len(sample)
    line.reference_shared_s_per_pair = detect_s / len(sample) if shares_landmarks else 0.0
    line.agreement = (
        "embeddings only (the harness runs the same network in torch: tests/test_lse_acd.py); "
        "ground truth cached by the harness, not timed by either"
    )


def _layered_inception(settings):
    """The same Inception as pytorch-fid's script runs it: its layered network (BatchNorm separate)."""
    from benchmark.perception.inception import load_layered_inception

    return load_layered_inception(settings.weights_dir)[0].to(settings.device)


def _reference_inception(sample, model, device):
    """pytorch-fid's loop: batches of 50, float32, autograd off, both videos."""
    import torch

    frames = np.stack([f for pair in sample for f in pair])
    out = []
    with torch.no_grad():
        for start in range(0, len(frames), 50):
            batch = torch.from_numpy(frames[start : start + 50]).permute(0, 3, 1, 2).float().div(255).to(device)
            out.append(model(batch).cpu())
    return torch.cat(out).numpy()


def reference_suite_s_per_pair(lines: list[Line]) -> float:
    """The reference pipeline's seconds per pair: each line's reference, landmarks shared between
    metrics paid once (as the harness shares them)."""
    return sum((line.reference_s_per_pair or 0.0) - line.reference_shared_s_per_pair for line in lines)


def _timed(fn, warm=None):
    """(seconds, result) of fn(); `warm` runs first, untimed (imports, model loads), as the harness's
    warm-up pass does for its metrics."""
    if warm is not None:
        warm()
        _wait_for_the_gpu()
    start = time.perf_counter()
    result = fn()
    _wait_for_the_gpu()
    return time.perf_counter() - start, result


def _wait_for_the_gpu() -> None:
    """CUDA work is asynchronous: a timer stops only once what was queued has run."""
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def run(
    dataset: str = "mini",
    limit: int | None = None,
    data_dir=None,
    threads: int | None = None,
    echo=print,
    metrics: tuple[str, ...] | None = None,
    sample_pairs: int = SAMPLE_PAIRS,
    device: str = "cpu",
) -> dict:
    from metrics import DEFAULT_METRICS, METRIC_GROUPS, expand_groups

    from benchmark.engine.runner import check_device

    check_device(device)  # one line, before the protocol is built, where torch sees no such device
    settings = Settings.create(data_dir, device=device, threads=threads)
    settings.apply_to_torch()
    pairs, cache_dir = _pairs(dataset, limit, settings, lambda s: echo(s))
    n_pairs = sum(len(ref) for _, _, ref in pairs)
    names = list(expand_groups(tuple(metrics)) if metrics else (*DEFAULT_METRICS, "fid"))
    echo(f"{len(pairs)} clips of {dataset}, {n_pairs} frame pairs; warming the ground-truth feature caches (not timed)")
    _time_harness(names, pairs, cache_dir, settings, shared=True)

    lines: list[Line] = []
    per_metric_values = {}
    for name in names:
        seconds, values = _time_harness([name], pairs, cache_dir, settings, shared=False)
        per_metric_values[name] = values[name]
        finite = [v for v in values[name] if np.isfinite(v)]  # FID has no per-clip value: it is pooled
        lines.append(Line(name, seconds / n_pairs, harness_value=float(np.mean(finite)) if finite else None))
    suite_s, _ = _time_harness(names, pairs, cache_dir, settings, shared=True)
    # FID's float32 Inception pass dominates on a CPU: the suite without it shows what the rest costs
    rest = [name for name in names if name != "fid"]
    rest_s = _time_harness(rest, pairs, cache_dir, settings, shared=True)[0] if "fid" in names and rest else None
    by_name = {line.metric: line for line in lines}

    if "psnr" in by_name:
        t, ref = _timed(lambda: _reference_psnr(pairs), warm=lambda: _reference_psnr(pairs[:1]))
        _set(by_name["psnr"], "skimage peak_signal_noise_ratio", t / n_pairs, ref, per_metric_values["psnr"])
    if "ssim" in by_name:
        t, ref = _timed(lambda: _reference_ssim(pairs), warm=lambda: _reference_ssim(pairs[:1]))
        _set(
            by_name["ssim"],
            "skimage structural_similarity (Wang 2004 settings)",
            t / n_pairs,
            ref,
            per_metric_values["ssim"],
        )
    sample = _sample(pairs, sample_pairs)
    if "cpbd" in by_name:
        try:
            t, ref = _timed(lambda: _reference_cpbd(sample), warm=lambda: _reference_cpbd(sample[:1]))
            line = by_name["cpbd"]
            line.reference, line.reference_s_per_pair = "cpbd package (grey, PIL L)", t / len(sample)
            line.reference_value = float(np.mean(ref))
            line.agreement = f"its mean over {len(sample)} sampled frames"
        except ImportError:
            by_name["cpbd"].agreement = "cpbd package not installed"
    landmark_metrics = [name for name in ("lmd", "blink", "bilabial") if name in by_name]
    if landmark_metrics or "acd" in by_name:
        from benchmark.perception.landmarks import Dlib68Landmarks

        dlib68 = Dlib68Landmarks()  # loading the predictor is not timed: the harness loads its models once too
    if landmark_metrics:
        t, _ = _timed(
            lambda: _reference_landmarks(sample, dlib68), warm=lambda: _reference_landmarks(sample[:1], dlib68)
        )
        for i, name in enumerate(landmark_metrics):
            line = by_name[name]
            line.reference, line.reference_s_per_pair = "dlib68 landmarks on both videos", t / len(sample)
            line.reference_shared_s_per_pair = line.reference_s_per_pair if i else 0.0  # paid once in a suite
            line.agreement = "landmarks only (the metric on top costs ~0); harness default backend differs"
    if "acd" in by_name:
        _time_reference_acd(by_name["acd"], sample, dlib68, shares_landmarks=bool(landmark_metrics))
    if "fid" in by_name:
        layered = _layered_inception(settings)
        t, _ = _timed(
            lambda: _reference_inception(sample, layered, settings.device),
            warm=lambda: _reference_inception(sample[:1], layered, settings.device),
        )
        by_name["fid"].reference = "same Inception, pytorch-fid's loop on both videos"
        by_name["fid"].reference_s_per_pair = t / len(sample)

    reference_suite = reference_suite_s_per_pair(lines)
    _print(lines, n_pairs, suite_s, reference_suite, settings, echo)
    motion = [name for name in names if name in METRIC_GROUPS["motion"]]
    if motion:
        added = _time_motion_over_landmarks(motion, pairs, cache_dir, settings)
        echo(
            f"motion metrics ({len(motion)}) over shared landmarks: {1000 * added['added_s_per_pair']:.2f} ms/frame pair "
            f"added (issue 26 target: <= 2 ms); the landmarks they share: {1000 * added['landmarks_s_per_pair']:.2f} "
            f"ms/frame pair; VAD once per clip: {1000 * added['vad_s_per_clip']:.0f} ms/clip "
            f"({1000 * added['vad_s_per_pair']:.2f} ms/frame pair; cached beside the protocol after a first run)"
        )
    result = {
        "pairs": n_pairs,
        "suite_pairs_per_s": n_pairs / suite_s,
        "reference_suite_pairs_per_s": 1 / reference_suite if reference_suite else None,
        "lines": [vars(line) | {"ratio": line.ratio} for line in lines],
    }
    if rest_s is not None:
        reference_rest = reference_suite - (by_name["fid"].reference_s_per_pair or 0)
        echo(_suite_line(f"suite without fid ({len(rest)} metrics)", n_pairs, rest_s, reference_rest, settings))
        result |= {
            "suite_without_fid_pairs_per_s": n_pairs / rest_s,
            "reference_suite_without_fid_pairs_per_s": 1 / reference_rest if reference_rest else None,
        }
    return result


def _suite_line(label: str, n_pairs: int, seconds: float, reference_s_per_pair: float, settings) -> str:
    where = f"(torch threads {settings.threads}, {settings.device})"
    if not reference_s_per_pair:
        return f"{label}: {n_pairs / seconds:6.1f} pairs/s (no reference timed)  {where}"
    return (
        f"{label}: {n_pairs / seconds:6.1f} pairs/s; references {1 / reference_s_per_pair:6.1f} pairs/s; "
        f"ratio {reference_s_per_pair * n_pairs / seconds:5.1f}x  {where}"
    )


def _set(line: Line, reference: str, seconds: float, ref_values, ours) -> None:
    line.reference, line.reference_s_per_pair = reference, seconds
    line.reference_value = float(np.mean(ref_values))
    diff = float(np.nanmax(np.abs(np.asarray(ours) - np.asarray(ref_values))))
    line.agreement = f"max |clip diff| {diff:.1e}"


def _print(lines, n_pairs, suite_s, reference_suite, settings, echo) -> None:
    echo(
        f"{'metric':10s} {'harness':>11s} {'reference':>11s} {'ratio':>7s}  {'value':>10s} {'ref value':>10s}  reference / agreement"
    )
    for line in lines:
        ref = f"{1000 * line.reference_s_per_pair:8.2f} ms" if line.reference_s_per_pair else "         —"
        ratio = f"{line.ratio:6.1f}x" if line.ratio else "      —"
        rv = f"{line.reference_value:10.4f}" if line.reference_value is not None else "         —"
        value = f"{line.harness_value:10.4f}" if line.harness_value is not None else "    pooled"
        echo(
            f"{line.metric:10s} {1000 * line.harness_s_per_pair:8.2f} ms {ref} {ratio}  {value} {rv}  "
            f"{line.reference or '(no reference implementation)'}; {line.agreement}"
        )
    echo(_suite_line("suite (one shared context per clip)", n_pairs, suite_s, reference_suite, settings))
