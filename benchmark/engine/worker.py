"""One clip, start to finish: generate (or reuse kept frames), validate, score each asked column.

A `ClipWorker` builds the adapter, metrics and protocol once from a plan; every executor (in
process, Ray actor) calls `process(task)` and gets back a plain result that the driver writes.
Only load / generate / validate failures fail a clip. A metric that cannot score a clip records
its own status ("failed", or "n/a" when the clip lacks what the metric needs) and every other
metric keeps its value. Each column also records its wall `seconds` on the clip: a timing of the
machine, kept in the row and out of the record (records.metric_seconds sums them); features that
metrics share are charged to the first column that computes them. And the torch `threads` it was
scored with: CPU kernels round with the thread count, and a run whose frames do not depend on it
(folder, still) may be resumed or merged across thread counts.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.engine.plan import PlannedClip, RunPlan
from benchmark.core.errors import BenchError, ClipError, MetricNotApplicable
from benchmark.core.rows import FAILED, NOT_APPLICABLE, OK, ClipRow, MetricOutcome
from benchmark.core.settings import Settings
from benchmark.core.types import Clip, GenerationRequest, Video


@dataclass
class ClipTask:
    """What to do for one clip: which metric columns to score, and where earlier frames are."""

    clip_id: str
    columns: list[str]
    kept_video: str | None = None  # path of frames kept by an earlier pass (--keep-videos)
    expected_video_sha256: str | None = None  # frames scored before: regenerated ones must match
    keep_video: bool = False
    attempt: int = 1


@dataclass
class ClipResult:
    row: ClipRow
    columns: list[str] = field(default_factory=list)  # the metric columns this task asked for
    artifacts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # column -> arrays
    video_bytes: bytes | None = None  # lossless FFV1 (.mkv) of the generated frames, when kept
    traceback: str | None = None  # of an unexpected failure, for errors.log
    cached_reference: int = 0  # ground-truth features computed and cached while scoring this clip


def new_row(clip: PlannedClip, adapter_fingerprint: str) -> ClipRow:
    """The row of one clip before any work: who it is, which frames it stands for, nothing scored yet."""
    return ClipRow(
        key=clip.key,
        clip_id=clip.id,
        speaker=clip.speaker,
        clip_fingerprint=clip.fingerprint,
        adapter_fingerprint=adapter_fingerprint,
        seed=clip.seed,
        timing={},
        input=clip.input,
    )


def video_sha256(frames: np.ndarray) -> str:
    """sha256 of the shape and the pixels, read in place (`tobytes` would copy the whole clip once more)."""
    h = hashlib.sha256(str(frames.shape).encode())
    h.update(np.ascontiguousarray(frames).data)
    return h.hexdigest()


def open_protocol(dataset: str, settings: Settings, log=None):
    from protocols import open_dataset

    protocol = open_dataset(dataset, settings.data_dir)
    if protocol.builds_itself and not protocol.is_prepared():
        if log:
            log(f"building the embedded {protocol.name} protocol in {protocol.prepared_dir} (first use only)")
        protocol.prepare()
    return protocol


def build_adapter(model: str, model_args: dict, settings: Settings):
    from adapters import ADAPTERS

    adapter = ADAPTERS.get(model)(**model_args)
    adapter.bind_weights(settings.weights_dir)
    return adapter


def build_metrics(specs: list[dict], settings: Settings) -> dict[str, Any]:
    """column -> Metric, each built once, after checking its declaration here has exactly the planned
    parameters and backend."""
    from benchmark.engine.plan import column_id
    from metrics import declare_metric

    out = {}
    for spec in specs:
        declared = declare_metric(spec["variant"], settings)
        declared.check()
        here = declared.spec().to_dict()
        column = column_id(here)
        if column != spec["column"]:
            raise BenchError(
                f"metric {spec['variant']} here is {here}, the plan has {spec}",
                hint="run every worker with the same harness, packages and weights",
            )
        out[column] = declared.build()
    return out


class ClipWorker:
    def __init__(self, plan: RunPlan | dict, device: str | None = None, adapter=None):
        """`adapter`: the one the driver planned with (same process), so per-clip state such as
        the folder adapter's file hashes is not computed twice; built from the plan otherwise."""
        self.plan = plan if isinstance(plan, RunPlan) else RunPlan.from_dict(plan)
        settings = Settings.from_dict(self.plan.settings)
        self.settings = settings.with_device(device) if device else settings
        self.settings.apply_to_torch()
        self.adapter = adapter or build_adapter(self.plan.model, self.plan.model_args, self.settings)
        if self.adapter.fingerprint() != self.plan.adapter["fingerprint"]:
            raise BenchError(
                f"the {self.plan.model} adapter here has fingerprint {self.adapter.fingerprint()[:12]}, "
                f"the plan {self.plan.adapter['fingerprint'][:12]}",
                hint="every worker needs the same harness code, model args and weights",
            )
        self.metrics = build_metrics(self.plan.metrics, self.settings)
        protocol = open_protocol(self.plan.dataset, self.settings)
        self.clips: dict[str, Clip] = {c.id: c for c in protocol.clips()}
        self.planned = {c.id: c for c in self.plan.clips}
        self.cache_dir = protocol.prepared_dir / "features"
        self._ready = False

    def process(self, task: ClipTask) -> ClipResult:
        clip = self.clips[task.clip_id]
        row = new_row(self.planned[clip.id], self.plan.adapter["fingerprint"])
        row.fps = clip.fps
        result = ClipResult(row, list(task.columns))
        stage = "load"
        try:
            video = None
            if task.kept_video:
                stage = "load"
                video = self._load_kept(task.kept_video, clip)
                row.video = {"source": "kept"}
            if video is None:
                stage = "generate"
                video = self._generate(clip, row)
                row.video = {"source": "generated"}
            stage = "validate"
            if row.video["source"] == "generated":  # kept frames were stored after fitting
                video = _fit_to_clip_size(video, clip, self.adapter, row)
            _validate(video, clip)
            row.n_frames = video.n_frames
            row.video["sha256"] = video_sha256(video.frames)
            if task.expected_video_sha256 and row.video["sha256"] != task.expected_video_sha256:
                raise ClipError(
                    "validate",
                    "the regenerated frames differ from the frames scored before "
                    f"({row.video['sha256'][:12]} vs {task.expected_video_sha256[:12]}): the "
                    "adapter is not deterministic here; re-run with --keep-videos in a new --out",
                )
            if task.keep_video:
                result.video_bytes = _encode_lossless(video)
            stage = "reference"  # the stage's name in rows on disk: loading the ground-truth frames
            t0 = time.perf_counter()
            ground_truth = clip.load_frames()
            if ground_truth.shape[0] != clip.n_frames:
                raise ClipError(
                    "reference", f"{clip.video_path}: has {ground_truth.shape[0]} frames, manifest says {clip.n_frames}"
                )
            row.timing["reference_s"] = round(time.perf_counter() - t0, 4)
            stage = "score"
            self._score(clip, video, ground_truth, task.columns, result)
        except ClipError as exc:
            row.fail(exc.stage, "ClipError", exc.message)
        except BenchError as exc:
            row.fail(stage, "BenchError", str(exc))
        except Exception as exc:  # one broken clip must not end the run
            row.fail(stage, type(exc).__name__, str(exc))
            result.traceback = f"--- {clip.id} [{stage}]\n{traceback.format_exc()}\n"
        return result

    # ---- pieces ---------------------------------------------------------------------------

    def _generate(self, clip: Clip, row: ClipRow) -> Video:
        planned = self.planned[clip.id].input
        if planned is not None and self.adapter.clip_input(clip) != planned:
            raise ClipError(
                "generate",
                f"{planned.get('file', 'its input file')} changed after this run was planned; "
                "re-run the same command to score the new file",
            )
        request = GenerationRequest.for_clip(clip)
        if not self._ready:
            self.adapter.setup(self.settings.device)
            self._ready = True
        t0 = time.perf_counter()
        video = self.adapter.generate(request, seed=row.seed)
        row.timing["generate_s"] = round(time.perf_counter() - t0, 4)
        if video.conformed:  # an external model's file fitted to the clip: the row says how
            row.conformed = video.conformed
        return video

    @staticmethod
    def _load_kept(path: str, clip: Clip) -> Video | None:
        from benchmark.core.media import read_video

        return read_video(path, n_frames=clip.n_frames, size=clip.size) if Path(path).is_file() else None

    def _score(
        self, clip: Clip, video: Video, ground_truth: np.ndarray, columns: list[str], result: ClipResult
    ) -> None:
        from metrics.context import ClipContext

        ctx = ClipContext(clip, video, ground_truth, cache_dir=self.cache_dir, settings=self.settings)
        for column in columns:
            t0 = time.perf_counter()
            scored = score_metric(self.metrics[column], ctx)
            if scored.artifacts:
                result.artifacts[column] = scored.artifacts
            if scored.traceback:
                result.traceback = (result.traceback or "") + f"--- {clip.id} [metric {column}]\n{scored.traceback}\n"
            outcome = scored.outcome
            outcome.seconds = round(time.perf_counter() - t0, 4)
            outcome.threads = self.settings.threads  # CPU values round with it: a resumed or merged run may mix
            result.row.outcomes[column] = outcome
        if ctx.cache_misses:  # the one-off ground-truth feature cache was filled for this clip
            result.cached_reference = ctx.cache_misses


@dataclass
class ScoredMetric:
    """One metric on one clip: its outcome for the row (ok, n/a or failed with a reason), the arrays kept
    beside the run, and the traceback of an unexpected exception (a metric's bug), if any."""

    outcome: MetricOutcome
    artifacts: dict[str, np.ndarray] = field(default_factory=dict)
    traceback: str | None = None

    @property
    def score(self) -> dict[str, Any]:
        """The outcome as clips.jsonl stores it."""
        return self.outcome.to_json()


def score_metric(metric, ctx) -> ScoredMetric:
    """Score one clip with one metric; whatever happens stays that metric's status on that clip."""
    try:
        value = metric.score_clip(ctx)
    except MetricNotApplicable as exc:
        return ScoredMetric(MetricOutcome.not_scored(NOT_APPLICABLE, exc.message))
    except ClipError as exc:
        return ScoredMetric(MetricOutcome.not_scored(FAILED, exc.message))
    except BenchError as exc:
        return ScoredMetric(MetricOutcome.not_scored(FAILED, str(exc)))
    except Exception as exc:  # a metric's bug or a backend's crash fails that metric on that clip only
        return ScoredMetric(
            MetricOutcome.not_scored(FAILED, f"{type(exc).__name__}: {exc}"), traceback=traceback.format_exc()
        )
    outcome = MetricOutcome(OK, value.value, pooled=value.pooled or None, extras=value.extras or None)
    return ScoredMetric(outcome, dict(value.artifacts or {}))


def _encode_lossless(video: Video) -> bytes:
    from benchmark.core.media import write_video

    with tempfile.TemporaryDirectory(prefix="bench-keep-") as tmp:
        path = Path(tmp) / "clip.mkv"
        write_video(path, video.frames, video.fps, codec="ffv1")
        return path.read_bytes()


def _fit_to_clip_size(video: Video, clip: Clip, adapter, row: ClipRow) -> Video:
    """Frames of a model with its own resolution (e.g. 1024²) resized to the clip's size, recorded in the row
    (the adapter declares it as `capabilities.resize_to_reference`)."""
    native = adapter.native_size()
    if native is not None and video.size != tuple(native):
        raise ClipError(
            "validate",
            f"{adapter.name} declares {native[0]}x{native[1]} frames but generated {video.size[0]}x{video.size[1]}",
        )
    if not adapter.capabilities.resize_to_reference or video.size == tuple(clip.size):
        return video
    from benchmark.core.media import RESIZE_FILTERS, resize_frame

    resized = [resize_frame(f, clip.size, "lanczos") for f in video.frames]
    row.resized = {"from": list(video.size), "to": list(clip.size), "filter": RESIZE_FILTERS["lanczos"][1]}
    return Video(np.stack(resized), video.fps)


def _validate(video: Video, clip: Clip) -> None:
    if video.n_frames != clip.n_frames:
        raise ClipError(
            "validate", f"length mismatch: generated {video.n_frames} frames, the reference has {clip.n_frames}"
        )
    if video.size != tuple(clip.size):
        raise ClipError(
            "validate",
            f"size mismatch: generated {video.size[0]}x{video.size[1]}, "
            f"the reference is {clip.size[0]}x{clip.size[1]} (HxW)",
        )
