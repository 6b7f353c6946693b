"""The run engine: protocol -> adapter -> metrics, one clip at a time, resumable.

Memory is bounded by one clip. Each finished clip is appended to clips.jsonl at once; a clip
that fails is recorded with its reason and the run moves on; re-running the same command skips
clips already scored under the same adapter fingerprint, clip fingerprint and seed.
"""

from __future__ import annotations

import hashlib
import os
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from adapters import ADAPTERS
from benchmark import provenance
from benchmark.errors import BenchError, ClipError
from benchmark.fingerprint import sha256_json
from benchmark.paths import WEIGHTS_ENV, weights_root
from benchmark.records import RECORD_FILE, ROWS_FILE, RUN_FILE, SCHEMA_VERSION, RowLog, write_json_atomic
from benchmark.subset import stratified_subset
from benchmark.types import Clip, GenerationRequest, Video
from metrics import DEFAULT_METRICS, create_metric, expand_metric_names
from metrics.context import ClipContext
from protocols import DATASETS


# exit statuses of `bench run`
EXIT_OK, EXIT_ERROR, EXIT_COMPLETED_WITH_FAILURES, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class RunConfig:
    model: str
    dataset: str
    metrics: tuple[str, ...] = DEFAULT_METRICS
    model_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    limit: int | None = None
    device: str = "cpu"
    runs_dir: Path = Path("results/runs")
    data_dir: Path | None = None
    landmarks: str | None = None  # landmark backend for the metrics that use one (None: their default)
    weights_dir: Path | None = None  # model weights root (None: $BENCH_WEIGHTS or <data>/weights)
    embedder: str | None = None  # identity embedder for ACD (None: its default, dlib-resnet)


@dataclass
class RunOutcome:
    run_dir: Path
    record: dict | None
    n_scored: int
    n_failed: int
    n_skipped: int
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_COMPLETED_WITH_FAILURES if self.n_failed else EXIT_OK


def clip_seed(run_seed: int, clip_id: str) -> int:
    """Per-clip seed that depends only on the run seed and the clip: order and subset don't matter."""
    return int(hashlib.sha256(f"{run_seed}:{clip_id}".encode()).hexdigest()[:8], 16)


def check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {device} was asked for, but torch sees no CUDA device", hint="use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchError(f"unknown device {device!r}", hint="use --device cpu or --device cuda")


class Runner:
    def __init__(self, config: RunConfig, progress: bool = True, log=print):
        self.config = config
        self.progress = progress
        self.log = log

    def run(self, stop_after: int | None = None) -> RunOutcome:
        """Score every selected clip not already scored. `stop_after` simulates an interruption (tests)."""
        cfg = self.config
        check_device(cfg.device)
        # names and adapter options first: a typo should fail in a second, not after data preparation
        if cfg.weights_dir:  # metric backends (fan, facenet, arcface, SyncNet) find their files there too
            os.environ[WEIGHTS_ENV] = str(Path(cfg.weights_dir).expanduser().resolve())
        cfg.metrics = expand_metric_names(tuple(cfg.metrics), self.log)
        adapter = ADAPTERS.get(cfg.model)(**cfg.model_args)
        adapter.bind_weights(weights_root(cfg.weights_dir, cfg.data_dir))
        metrics = [create_metric(name, device=cfg.device, landmarks=cfg.landmarks, embedder=cfg.embedder) for name in cfg.metrics]
        protocol = self._protocol()
        clips = stratified_subset(protocol.clips(), cfg.limit, cfg.seed)
        adapter_fp = adapter.fingerprint()
        metric_specs = [m.spec.to_dict() for m in metrics]
        metrics_fp = sha256_json(metric_specs)

        run_dir = self._run_dir(protocol.id, metric_specs)
        run_dir.mkdir(parents=True, exist_ok=True)
        self._run_dir_path = run_dir
        started = datetime.now(timezone.utc)
        write_json_atomic(run_dir / RUN_FILE, {
            "schema_version": SCHEMA_VERSION, "model": cfg.model, "model_args": cfg.model_args,
            "dataset": cfg.dataset, "metrics": list(cfg.metrics), "seed": cfg.seed, "limit": cfg.limit,
            "device": cfg.device, "command": self.command_line(),
        })
        log = RowLog(run_dir / ROWS_FILE)
        done = log.latest_by_key()

        def key_of(clip: Clip) -> str:
            return sha256_json([adapter_fp, clip.fingerprint, clip_seed(cfg.seed, clip.id), metrics_fp])

        todo = [c for c in clips if done.get(key_of(c), {}).get("status") != "ok"]
        skipped = len(clips) - len(todo)
        if skipped:
            self.log(f"resuming {run_dir}: {skipped} of {len(clips)} clips already scored")
        interrupted = False
        if todo:
            adapter.setup(cfg.device)
        bar = _progress_bar(len(clips), skipped, f"{cfg.model} on {protocol.id}", self.progress)
        try:
            for i, clip in enumerate(todo):
                if stop_after is not None and i >= stop_after:
                    raise KeyboardInterrupt
                row = self._score_clip(clip, adapter, metrics, key_of(clip), adapter_fp, run_dir)
                log.append(row)
                bar.update(1)
                if row["status"] != "ok":
                    bar.write(f"  failed {clip.id} [{row['error']['stage']}]: {row['error']['message']}")
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()

        if interrupted:
            n_done = sum(1 for c in clips if log.latest_by_key().get(key_of(c), {}).get("status") == "ok")
            self.log(f"interrupted: {n_done} of {len(clips)} clips scored and saved in {run_dir}. "
                     f"Re-run the same command to resume.")
            return RunOutcome(run_dir, None, n_done, 0, skipped, interrupted=True)

        rows = log.latest_by_key()
        final_rows = [rows[key_of(c)] for c in clips]
        record = self._record(protocol, clips, adapter, metrics, final_rows, started)
        write_json_atomic(run_dir / RECORD_FILE, record)
        n_failed = sum(r["status"] != "ok" for r in final_rows)
        return RunOutcome(run_dir, record, len(final_rows) - n_failed, n_failed, skipped)

    # ---- pieces -------------------------------------------------------------------------

    def _protocol(self):
        from benchmark.paths import data_root

        protocol = DATASETS.get(self.config.dataset)(data_root(self.config.data_dir))
        self._feature_cache_dir = getattr(protocol, "prepared_dir", None)
        if self._feature_cache_dir is not None:
            self._feature_cache_dir = self._feature_cache_dir / "features"
        if getattr(protocol, "builds_itself", False) and not protocol.is_prepared():
            self.log(f"building the embedded {protocol.name} protocol in {protocol.prepared_dir} (first use only)")
            protocol.prepare()
        return protocol

    def _run_dir(self, protocol_id: str, metric_specs: list[dict]) -> Path:
        cfg = self.config
        config_hash = sha256_json({"protocol": protocol_id, "model_args": cfg.model_args, "metrics": metric_specs,
                                   "limit": cfg.limit, "device": cfg.device})[:8]
        return Path(cfg.runs_dir) / cfg.dataset / f"{cfg.model}-seed{cfg.seed}-{config_hash}"

    def command_line(self) -> str:
        cfg = self.config
        parts = ["bench", "run", "--model", cfg.model, "--dataset", cfg.dataset, "--seed", str(cfg.seed),
                 "--device", cfg.device, "--metrics", ",".join(cfg.metrics)]
        if cfg.limit:
            parts += ["--limit", str(cfg.limit)]
        if cfg.landmarks:
            parts += ["--landmarks", cfg.landmarks]
        if cfg.weights_dir:
            parts += ["--weights", str(cfg.weights_dir)]
        if cfg.embedder:
            parts += ["--embedder", cfg.embedder]
        if cfg.model_args:
            parts += ["--model-args", ",".join(f"{k}={v}" for k, v in cfg.model_args.items())]
        return " ".join(parts)

    def _score_clip(self, clip: Clip, adapter, metrics, key: str, adapter_fp: str, run_dir: Path) -> dict:
        row: dict[str, Any] = {"key": key, "clip_id": clip.id, "speaker": clip.speaker, "clip_fingerprint": clip.fingerprint,
                               "adapter_fingerprint": adapter_fp, "seed": clip_seed(self.config.seed, clip.id), "fps": clip.fps,
                               "status": "ok", "metrics": {}, "pooled": {}, "extras": {}, "timing": {}}
        stage = "load"
        try:
            request = GenerationRequest.for_clip(clip)
            stage = "generate"
            t0 = time.perf_counter()
            video = adapter.generate(request, seed=row["seed"])
            row["timing"]["generate_s"] = round(time.perf_counter() - t0, 4)
            stage = "validate"
            video = _fit_to_reference(video, clip, adapter, row)
            _validate(video, clip)
            stage = "reference"
            reference = clip.load_frames()
            if reference.shape[0] != clip.n_frames:
                raise ClipError("reference", f"{clip.video_path}: has {reference.shape[0]} frames, manifest says {clip.n_frames}")
            t0 = time.perf_counter()
            ctx = ClipContext(clip, video, reference, cache_dir=self._feature_cache_dir)
            for metric in metrics:
                stage = f"metric:{metric.name}"
                result = metric.score_clip(ctx)
                row["metrics"][metric.variant] = result.value
                if result.pooled:
                    row["pooled"][metric.variant] = result.pooled
                if result.extras:
                    row["extras"][metric.variant] = result.extras
                if result.artifacts:
                    row.setdefault("artifacts", {})[metric.variant] = _save_artifacts(run_dir, metric.variant, clip.id, result.artifacts)
            row["timing"]["score_s"] = round(time.perf_counter() - t0, 4)
            row["n_frames"] = video.n_frames
        except ClipError as exc:
            row.update(status="failed", error={"stage": exc.stage, "type": "ClipError", "message": exc.message})
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one broken clip must not end the run
            row.update(status="failed", error={"stage": stage, "type": type(exc).__name__, "message": str(exc)})
            with open(run_dir / "errors.log", "a", encoding="utf-8") as f:
                f.write(f"--- {clip.id} [{stage}]\n{traceback.format_exc()}\n")
        return row

    def _record(self, protocol, clips, adapter, metrics, rows, started) -> dict:
        cfg = self.config
        finished = datetime.now(timezone.utc)
        results = {}
        for metric in metrics:
            state = metric.new_state()
            for row in rows:
                if row["status"] == "ok" and metric.variant in row["metrics"]:
                    # per-clip arrays (features, plot series, frame strips) are read only by states built from them
                    artifacts = _load_artifacts(self._run_dir_path, row, metric.variant) \
                        if getattr(state, "consumes_artifacts", False) else None
                    state.add(row["metrics"][metric.variant], row.get("pooled", {}).get(metric.variant), artifacts)
            summary = state.compute()
            summary["n_failed"] = sum(r["status"] != "ok" for r in rows)
            results[metric.variant] = summary
        failures = [{"clip_id": r["clip_id"], **r["error"]} for r in rows if r["status"] != "ok"]
        return {
            "schema_version": SCHEMA_VERSION,
            "protocol": {"id": protocol.id, "name": protocol.name, "version": protocol.version,
                         "clip_list_fingerprint": protocol.fingerprint(clips), "n_clips": len(clips),
                         "subset": {"limit": cfg.limit, "seed": cfg.seed, "method": "speaker-stratified"}},
            "adapter": adapter.describe(),
            "metrics": [{**m.spec.to_dict(), "resolution": _resolutions(clips)} for m in metrics],
            "seed": cfg.seed,
            "device": provenance.device_info(cfg.device),
            "code": provenance.git_revision(),
            "packages": provenance.package_versions(),
            "command": self.command_line(),
            "started_at": started.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "wall_time_s": round((finished - started).total_seconds(), 3),
            "clips": {"total": len(rows), "scored": len(rows) - len(failures), "failed": len(failures)},
            "failures": failures,
            "results": results,
            "files": {"clips": ROWS_FILE},
        }


def _save_artifacts(run_dir: Path, variant: str, clip_id: str, arrays: dict) -> str:
    """Write a metric's per-clip arrays (e.g. Inception features) beside the run; return the relative path."""
    import numpy as np

    relative = Path("artifacts") / variant / f"{clip_id}.npz"
    path = run_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return str(relative)


def _load_artifacts(run_dir: Path, row: dict, variant: str) -> dict | None:
    import numpy as np

    relative = row.get("artifacts", {}).get(variant)
    if relative is None:
        return None
    with np.load(run_dir / relative) as data:
        return {k: data[k] for k in data.files}


def _fit_to_reference(video: Video, clip: Clip, adapter, row: dict) -> Video:
    """Frames of a model with its own resolution (e.g. 1024²) resized to the reference size, recorded in the row."""
    native = adapter.native_size()
    if native is not None and video.size != tuple(native):
        raise ClipError("validate", f"{adapter.name} declares {native[0]}x{native[1]} frames but generated "
                                    f"{video.size[0]}x{video.size[1]}")
    if not adapter.capabilities.resize_to_reference or video.size == tuple(clip.size):
        return video
    from PIL import Image

    h, w = clip.size
    resized = [np.asarray(Image.fromarray(f).resize((w, h), Image.LANCZOS)) for f in video.frames]
    row["resized"] = {"from": list(video.size), "to": [h, w], "filter": "PIL Lanczos"}
    return Video(np.stack(resized), video.fps)


def _validate(video: Video, clip: Clip) -> None:
    if video.n_frames != clip.n_frames:
        raise ClipError("validate", f"length mismatch: generated {video.n_frames} frames, the reference has {clip.n_frames}")
    if video.size != tuple(clip.size):
        raise ClipError("validate", f"size mismatch: generated {video.size[0]}x{video.size[1]}, "
                                    f"the reference is {clip.size[0]}x{clip.size[1]} (HxW)")


def _resolutions(clips: list[Clip]) -> list[int] | str:
    sizes = {tuple(c.size) for c in clips}
    return list(sizes.pop()) if len(sizes) == 1 else "mixed"


class _NoBar:
    def update(self, n): ...
    def write(self, s): print(s)
    def close(self): ...


def _progress_bar(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="clip", dynamic_ncols=True)

