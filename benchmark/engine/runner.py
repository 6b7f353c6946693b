"""The driver: plan -> execute -> reduce, resumable, and the only writer of the run directory.

`Runner.run()` builds a serialisable plan (protocol clips, adapter fingerprint, metric columns,
generation and subset seeds), decides per clip what is still missing (a clip never generated, or
only the metric columns not yet scored), hands those tasks to an executor (in-process or Ray),
writes each result as it arrives, and finally reduces the rows, in protocol order, to the record.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmark.core import provenance
from benchmark.engine.lineage import find_resembling, reuse_unchanged_rows
from benchmark.engine.plan import PlannedClip, RunPlan, clip_seed, column_id, row_key, shard_of
from benchmark.engine.reduce import clip_summary, reduce_results
from benchmark.engine.store import RunLock, RunStore, write_bytes_atomic
from benchmark.engine.worker import ClipResult, ClipTask, build_adapter, open_protocol
from benchmark.core.errors import BenchError
from benchmark.core.records import (
    RECORD_FILE,
    SCHEMA_VERSION,
    completeness,
    integrity_block,
    metric_seconds,
    project_row,
)
from benchmark.core.rows import FAILED, ClipRow, MetricOutcome
from benchmark.core.settings import Settings
from benchmark.core.subset import stratified_subset
from metrics import DEFAULT_METRICS
from protocols.base import describe_partial

__all__ = ["RunConfig", "Runner", "RunOutcome", "check_device", "clip_seed"]

# exit statuses of `bench run`
EXIT_OK, EXIT_ERROR, EXIT_COMPLETED_WITH_FAILURES, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class RunConfig:
    model: str
    dataset: str
    metrics: tuple[str, ...] = DEFAULT_METRICS
    model_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0  # the generation seed (model noise)
    limit: int | None = None
    device: str = "cpu"
    runs_dir: Path = Path("results/runs")
    data_dir: Path | None = None
    landmarks: str | None = None  # landmark backend for the metrics that use one (None: their default)
    weights_dir: Path | None = None  # weights root (None: $BENCH_WEIGHTS or <data>/weights)
    embedder: str | None = None  # identity embedder for ACD (None: its default, dlib-resnet)
    subset_seed: int = 0  # picks the --limit subset, independently of the generation seed
    shard: tuple[int, int] | None = None  # (K, N): only the clips whose sha256(id) % N == K
    executor: str = "local"  # local | ray
    workers: int = 2  # Ray actors
    gpus_per_worker: float = 0.0
    ray_address: str | None = None
    keep_videos: bool = False  # store generated frames (lossless FFV1) so adding a metric never regenerates
    wait: bool = False  # queue behind another process writing the same run instead of exiting
    threads: int | None = None  # torch threads per worker (None: this machine's cores); recorded
    name: str | None = None  # the run's label in tables and pages (None: the adapter's default label)
    allow_partial: bool = False  # a protocol prepared with clips or speakers missing exits 0, not 3


@dataclass
class RunOutcome:
    run_dir: Path
    record: dict | None
    n_scored: int
    n_failed: int
    n_skipped: int
    interrupted: bool = False
    n_tasks: int = 0  # clips that needed work in this invocation
    n_generated: int = 0  # of those, clips whose frames were generated (not kept, not skipped)
    scored_columns: dict[str, int] = field(default_factory=dict)  # column -> clips scored in this invocation
    partial_note: str | None = None  # set when the protocol is partial and --allow-partial was not given
    metric_seconds: dict[str, dict] = field(
        default_factory=dict
    )  # variant -> {clips, total_s, mean_s}: not in the record

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.record is not None and self.n_scored == 0 and self.n_failed:
            return EXIT_ERROR  # every clip failed: nothing to report
        return EXIT_COMPLETED_WITH_FAILURES if self.n_failed or self.partial_note else EXIT_OK


def check_device(device: str) -> None:
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {device} was asked for, but torch sees no CUDA device", hint="use --device cpu")
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchError(f"unknown device {device!r}", hint="use --device cpu or --device cuda")


MAX_LABEL = 64
MODEL_ARGS_FILE = "model-args.txt"  # in the run folder, when a model arg holds a comma


def check_label(name: str) -> str:
    """A label shows in tables, pages and LaTeX: one short printable line."""
    label = name.strip()
    if not label or len(label) > MAX_LABEL or not label.isprintable():
        raise BenchError(
            f"--name {name!r}: a run label must be 1 to {MAX_LABEL} printable characters on one line",
            hint="e.g. --name sadtalker-256",
        )
    return label


def folder_label(label: str) -> str:
    """A label as a folder-name part: letters, digits, `.`, `_`, `-` (others become `_`), not starting with a dot."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", label).lstrip(".") or "run"


def settings_for(cfg: RunConfig) -> Settings:
    return Settings.create(cfg.data_dir, cfg.weights_dir, cfg.device, cfg.landmarks, cfg.embedder, threads=cfg.threads)


class Runner:
    def __init__(self, config: RunConfig, progress: bool = True, log=print, executor=None):
        self.config = config
        self.progress = progress
        self.log = log
        self._executor = executor
        self._planned_adapter = None  # reused by the local executor: built once per run, not twice
        self.skipped_metrics: list[dict] = []  # set by plan(): what `--metrics all` left out, and why

    # ---- plan -----------------------------------------------------------------------------

    def plan(self) -> tuple[RunPlan, object]:
        """Names and options are checked first: a typo fails in a second, not after data preparation."""
        from metrics import expand_metric_names

        cfg = self.config
        if cfg.limit is not None and cfg.limit < 1:
            raise BenchError(f"--limit {cfg.limit}: must be a positive number of clips", hint="e.g. --limit 4")
        if cfg.executor == "ray" and cfg.device.startswith("cuda") and not cfg.gpus_per_worker:
            raise BenchError(
                "--device cuda with --executor ray needs GPUs for the workers",
                hint="add --gpus-per-worker 1 (or a fraction, e.g. 0.5, to share a GPU)",
            )
        if cfg.executor == "local" or not cfg.gpus_per_worker:
            check_device(cfg.device)  # on a Ray cluster the GPUs are the workers', not this driver's
        settings = settings_for(cfg)
        self.skipped_metrics = []  # what `--metrics all` left out, and why: recorded in the record
        names = expand_metric_names(tuple(cfg.metrics), settings, self.log, self.skipped_metrics)
        if not names:
            raise BenchError(
                "no metric to score", hint="name at least one, e.g. --metrics psnr,ssim (see `bench list metrics`)"
            )
        adapter = build_adapter(cfg.model, cfg.model_args, settings)
        declared = list(zip(names, declare_metrics(names, settings)))
        label = self._label(adapter)
        for warning in adapter.warnings():
            self.log(f"warning: {warning}")
        protocol = open_protocol(cfg.dataset, settings, self.log)
        every_clip = protocol.clips()
        clips = stratified_subset(every_clip, cfg.limit, cfg.subset_seed)
        specs = []
        kept = self._enough_frames(declared, [c.n_frames for c in clips], protocol.id)
        for name, metric in kept:
            spec = metric.spec().to_dict()
            specs.append({**spec, "column": column_id(spec)})
        adapter_fp = adapter.fingerprint()
        planned = []
        for i, c in enumerate(clips):
            seed = clip_seed(cfg.seed, c.id)
            # only this shard's clips: a folder's videos are read for the clips this process scores
            ours = cfg.shard is None or shard_of(c.id, cfg.shard[1]) == cfg.shard[0]
            clip_input = adapter.clip_input(c) if ours else None
            key = row_key(adapter_fp, c.fingerprint, seed, clip_input)
            planned.append(PlannedClip(c.id, c.speaker, c.fingerprint, seed, key, i, clip_input))
        sizes = {tuple(c.size) for c in clips}
        resolution = list(sizes.pop()) if len(sizes) == 1 else "mixed"
        for spec, (_, metric) in zip(specs, kept):
            spec.update(resolution=resolution, aggregation=metric.aggregation.description)
        plan = RunPlan(
            dataset=cfg.dataset,
            protocol={
                "id": protocol.id,
                "name": protocol.name,
                "version": protocol.version,
                "clip_list_fingerprint": protocol.fingerprint(clips),
                "n_clips": len(clips),
                "n_protocol_clips": len(every_clip),
                "partial": protocol.partial,
            },
            model=cfg.model,
            model_args=dict(cfg.model_args),
            adapter=adapter.describe(),
            seeds={"generation": cfg.seed, "subset": cfg.subset_seed},
            limit=cfg.limit,
            settings=settings.to_dict(),
            metrics=specs,
            clips=planned,
            keep_videos=cfg.keep_videos,
            label=label,
        ).shard_plan(cfg.shard)
        return plan, adapter

    def _enough_frames(self, declared: list, frame_counts: list[int], protocol_id: str) -> list:
        """The metrics that can give a value on these clips. One that cannot (FID on too few frames)
        stops the run before any work when asked for by name; under `all` it is skipped and recorded."""
        asked = set(self.config.metrics) - {"all"}
        kept = []
        for name, metric in declared:
            reason = metric.too_few(frame_counts)
            if reason is None:
                kept.append((name, metric))
            elif name in asked:
                raise BenchError(
                    f"{reason} (on {protocol_id}{f' with --limit {self.config.limit}' if self.config.limit else ''})",
                    hint=f"drop {name} from --metrics, or score more clips"
                    + (" (a larger --limit)" if self.config.limit else ""),
                )
            else:
                self.log(f"--metrics all: skipping {name}: {reason}")
                self.skipped_metrics.append({"name": name, "reason": reason})
        if not kept:
            raise BenchError(
                "no metric to score on these clips", hint="see the lines above; name others with --metrics"
            )
        return kept

    def _label(self, adapter) -> str:
        """--name, checked; without one, the adapter's default (warned for external models)."""
        name = self.config.name
        if name is None:
            label = adapter.default_label()
            if adapter.external:
                self.log(
                    f"warning: no --name for this {adapter.name} run; it is labelled {label!r} (its folder). "
                    f"Name runs of external models, e.g. --name my-model-v2, so tables tell them apart."
                )
            return label
        return check_label(name)

    def run_dir(self, plan: RunPlan) -> Path:
        """`<runs>/<dataset>/<label>-seed<S>-<run id>[-shardKofN]`: the label as the folder is created.

        The label is not part of the run's identity: the run id is. So an existing folder of this
        run is found by its `-seed<S>-<run id>` ending whatever label it was created under, and a
        re-labelled run (--name) resumes there; the record's `label` is the current one."""
        cfg = self.config
        shard = f"-shard{plan.shard[0]}of{plan.shard[1]}" if plan.shard else ""
        parent = Path(cfg.runs_dir) / cfg.dataset.replace(":", "-")
        ending = f"-seed{cfg.seed}-{plan.run_id}{shard}"
        existing = sorted(p for p in parent.glob(f"*{ending}") if p.is_dir()) if parent.is_dir() else []
        if existing:
            return existing[0]
        return parent / f"{folder_label(plan.label or cfg.model)}{ending}"

    # ---- execute ----------------------------------------------------------------------------

    def run(self, stop_after: int | None = None) -> RunOutcome:
        """Generate and score what is missing; `stop_after` simulates an interruption (tests)."""
        plan, self._planned_adapter = self.plan()
        partial = plan.protocol.get("partial")
        if partial:
            self.log(f"warning: {describe_partial(plan.protocol['id'], partial)}")
        store = RunStore(self.run_dir(plan))
        # a new folder: other videos or another model version than an earlier run, which stays as it was
        resemblance = None if store.dir.exists() else find_resembling(plan, store.dir)
        if resemblance is not None:
            self.log(resemblance.message(plan.label))
        store.create()
        lock = RunLock(store.dir)
        lock.acquire(wait=self.config.wait, log=self.log)
        try:
            outcome = self._run_locked(plan, store, stop_after, resemblance)
        finally:
            lock.release()
        if partial and not self.config.allow_partial:
            outcome.partial_note = (
                f"{plan.protocol['id']} is partial ({partial['n_present']} of the {partial['n_expected']} "
                f"clips found in the source prepared, {len(partial.get('missing_speakers', []))} of "
                f"{partial.get('n_speakers_expected', '?')} speakers missing; "
                f"record.json protocol.partial lists them): exit status 3. Fix what `bench prepare` "
                f"listed and prepare again, or pass --allow-partial to accept a partial protocol"
            )
        return outcome

    def _run_locked(self, plan: RunPlan, store: RunStore, stop_after: int | None, resemblance=None) -> RunOutcome:
        started = datetime.now(timezone.utc)
        reported = self._reported_specs(plan, store)
        store.write_plan(
            plan.to_dict(),
            {"schema_version": SCHEMA_VERSION, "command": self.command_line(), "reported_metrics": reported},
        )
        if self._model_args_need_file():  # the recorded command line names it
            text = "".join(f"{k}={v}\n" for k, v in self.config.model_args.items())
            write_bytes_atomic(store.dir / MODEL_ARGS_FILE, text.encode())
        rows = store.latest_rows()
        reused = 0
        if resemblance is not None and not rows:
            reused = reuse_unchanged_rows(resemblance, plan, store)
            if reused:
                self.log(f"reusing the scores of {reused} clips whose files did not change, from {resemblance.run_dir}")
                rows = store.latest_rows()
        tasks = self._tasks(plan, rows, store)
        skipped = len(plan.clips) - len(tasks)
        if skipped and tasks and not reused:
            self.log(f"resuming {store.dir}: {skipped} of {len(plan.clips)} clips already scored")
        if tasks:
            store.clear_record()
        executor = self._executor or self._make_executor()
        outcome = RunOutcome(store.dir, None, 0, 0, skipped, n_tasks=len(tasks))
        bar = progress_bar(len(plan.clips), skipped, f"{plan.model} on {plan.protocol['id']}", self.progress)
        results = executor.run(plan, tasks)
        caching = 0
        try:
            for i, result in enumerate(results):
                if stop_after is not None and i >= stop_after:
                    raise KeyboardInterrupt
                row = self._write_result(store, rows, result, outcome)
                if result.cached_reference:
                    caching += 1
                    bar.set_postfix_str(
                        f"caching ground-truth features: {caching} clips (once per protocol and backend; "
                        "`bench features` computes them ahead)"
                    )
                bar.update(1)
                if not row.ok:
                    bar.write(f"  failed {row.clip_id} [{row.error['stage']}]: {row.error['message']}")
        except KeyboardInterrupt:
            outcome.interrupted = True
        finally:
            close = getattr(results, "close", None)
            if close:
                close()  # stops the executor's workers (and a Ray cluster it started)
            bar.close()
        if outcome.interrupted:
            done = sum(1 for c in plan.clips if c.key in rows and not self._missing(plan, rows[c.key]))
            self.log(
                f"interrupted: {done} of {len(plan.clips)} clips complete and saved in {store.dir}. "
                f"Re-run the same command to resume."
            )
            outcome.n_scored = done
            return outcome
        record = build_record(
            plan, reported, rows, store, started, self.command_line(), executor.describe(), self.skipped_metrics
        )
        store.write_record(record)
        if warning := mixed_threads_warning(record["settings"]["scoring_threads"]):
            self.log(f"warning: {warning}")
        outcome.record = record
        columns = {m["variant"]: m["column"] for m in reported}
        outcome.metric_seconds = metric_seconds(
            [project_row(rows[c.key].to_json(), columns) for c in plan.clips if c.key in rows]
        )
        outcome.n_scored, outcome.n_failed = record["clips"]["scored"], record["clips"]["failed"]
        return outcome

    def _make_executor(self):
        from benchmark.engine.executors import LocalExecutor, RayExecutor

        cfg = self.config
        if cfg.executor == "local":
            return LocalExecutor(adapter=self._planned_adapter)
        if cfg.executor == "ray":
            return RayExecutor(
                workers=cfg.workers, gpus_per_worker=cfg.gpus_per_worker, address=cfg.ray_address, log=self.log
            )
        raise BenchError(f"unknown executor {cfg.executor!r}", hint="use --executor local or --executor ray")

    @staticmethod
    def _missing(plan: RunPlan, row: ClipRow) -> list[str]:
        if not row.ok:
            return [m["column"] for m in plan.metrics]
        return [m["column"] for m in plan.metrics if m["column"] not in row.outcomes]

    def _tasks(self, plan: RunPlan, rows: dict[str, ClipRow], store: RunStore) -> list[ClipTask]:
        tasks = []
        for clip in plan.clips:
            row = rows.get(clip.key)
            missing = self._missing(plan, row) if row else [m["column"] for m in plan.metrics]
            if not missing:
                continue
            task = ClipTask(clip.id, missing, keep_video=plan.keep_videos)
            if row is not None and row.ok:
                kept = (row.video or {}).get("path")
                task.kept_video = str(store.dir / kept) if kept else None
                task.expected_video_sha256 = (row.video or {}).get("sha256")
                task.keep_video = plan.keep_videos and not kept
            tasks.append(task)
        return tasks

    def _write_result(
        self, store: RunStore, rows: dict[str, ClipRow], result: ClipResult, outcome: RunOutcome
    ) -> ClipRow:
        """Merge a result into the clip's row (earlier columns are kept) and append it to clips.jsonl."""
        new = result.row
        if result.traceback:
            store.log_error(result.traceback)
        for column, arrays in result.artifacts.items():
            new.outcomes[column].artifact = store.save_artifacts(column, new.clip_id, arrays)
        if result.video_bytes is not None:
            new.video = {**(new.video or {}), "path": store.save_video(new.clip_id, result.video_bytes)}
        if (new.video or {}).get("source") == "generated":
            outcome.n_generated += 1
        old = rows.get(new.key)
        if old is not None and old.ok:
            new = merge_rows(old, new, result.columns)
        store.append_row(new)
        rows[new.key] = new
        for column in new.outcomes:
            if column in result.row.outcomes:
                outcome.scored_columns[column] = outcome.scored_columns.get(column, 0) + 1
        return new

    def _reported_specs(self, plan: RunPlan, store: RunStore) -> list[dict]:
        """This invocation's metrics, plus those an earlier complete record of this run reported."""
        import json

        current = {m["variant"] for m in plan.metrics}
        earlier: list[dict] = []
        record_path, run_path = store.dir / RECORD_FILE, store.dir / "run.json"
        try:
            if record_path.is_file():
                earlier = json.loads(record_path.read_text()).get("metrics", [])
            elif run_path.is_file():  # an interrupted extension: what the run reported before it
                earlier = json.loads(run_path.read_text()).get("reported_metrics", [])
        except ValueError:
            earlier = []
        return [m for m in earlier if m.get("variant") not in current and "column" in m] + list(plan.metrics)

    def command_line(self) -> str:
        cfg = self.config
        parts = [
            "bench",
            "run",
            "--model",
            cfg.model,
            "--dataset",
            cfg.dataset,
            "--seed",
            str(cfg.seed),
            "--device",
            cfg.device,
            "--metrics",
            ",".join(cfg.metrics),
        ]
        if cfg.limit:
            parts += ["--limit", str(cfg.limit), "--subset-seed", str(cfg.subset_seed)]
        for flag, value in (
            ("--landmarks", cfg.landmarks),
            ("--weights", cfg.weights_dir),
            ("--embedder", cfg.embedder),
        ):
            if value:
                parts += [flag, str(value)]
        if cfg.shard:
            parts += ["--shard", f"{cfg.shard[0]}/{cfg.shard[1]}"]
        if cfg.keep_videos:
            parts.append("--keep-videos")
        if cfg.name is not None:
            parts += ["--name", cfg.name]
        if cfg.allow_partial:
            parts.append("--allow-partial")
        if self._model_args_need_file():
            parts += ["--model-args-file", MODEL_ARGS_FILE]  # written beside the record: a comma would split the value
        elif cfg.model_args:
            parts += ["--model-args", ",".join(f"{k}={v}" for k, v in cfg.model_args.items())]
        return shlex.join(parts)

    def _model_args_need_file(self) -> bool:
        """A value with a comma or newline cannot be written back as --model-args key=value,key=value."""
        return any("," in str(v) or "\n" in str(v) for v in self.config.model_args.values())


def merge_rows(old: ClipRow, new: ClipRow, columns: list[str]) -> ClipRow:
    """A scored clip's row with a later pass's columns added (earlier columns are kept as they were).

    When the later pass failed (its frames could not be loaded or regenerated), only the columns it
    was asked for fail, with its reason; the clip itself stays scored."""
    if new.ok:
        return replace(
            old,
            outcomes={**old.outcomes, **new.outcomes},
            timing={**(old.timing or {}), **new.timing},
            video={**(old.video or {}), **(new.video or {})},
        )
    reason = new.failure_text()
    return replace(old, outcomes={**old.outcomes, **{c: MetricOutcome.not_scored(FAILED, reason) for c in columns}})


def declare_metrics(names, settings: Settings) -> list:
    """Every metric declared and its requirements checked before any work (no scorer is built here: the
    workers build them); all that cannot run are named in one error."""
    from benchmark.core.errors import BenchError
    from metrics import declare_metric

    declared, problems = [], []
    for name in names:
        try:
            metric = declare_metric(name, settings)
            metric.check()
            declared.append(metric)
        except BenchError as exc:
            problems.append((name, exc))
    if len(problems) == 1:
        raise problems[0][1]
    if problems:
        lines = "\n".join(
            f"  {name}: {exc.message}" + (f"\n      fix: {exc.hint}" if exc.hint else "") for name, exc in problems
        )
        raise BenchError(f"{len(problems)} metrics cannot run (nothing was computed):\n{lines}")
    return declared


# ---- reduce ---------------------------------------------------------------------------------


def build_record(
    plan: RunPlan,
    specs: list[dict],
    rows: dict[str, ClipRow],
    store: RunStore,
    started: datetime,
    command: str,
    execution: dict,
    skipped_metrics: list[dict] | None = None,
) -> dict:
    """The record: a pure function of the plan and its rows (plus provenance and timings).

    `skipped_metrics`: what `--metrics all` left out and why (no weights, too few frames), recorded when any."""
    finished = datetime.now(timezone.utc)
    results = reduce_results(specs, plan.clips, rows, store.load_artifacts)
    clips, failures = clip_summary(plan.clips, rows)
    settings = {k: v for k, v in plan.settings.items() if k in ("device", "landmarks", "embedder", "threads")}
    settings["scoring_threads"] = scoring_threads(plan, specs, rows)
    protocol = {
        **plan.protocol,
        "subset": {"limit": plan.limit, "seed": plan.seeds["subset"], "method": "speaker-stratified"},
        "shard": plan.shard,
    }
    record = {
        "schema_version": SCHEMA_VERSION,
        "run_id": plan.run_id,
        "label": plan.label or plan.adapter["name"],
        "completeness": completeness(protocol, clips, failures),
        "protocol": protocol,
        "adapter": plan.adapter,
        "metrics": specs,
        "seed": plan.seeds["generation"],
        "seeds": dict(plan.seeds),
        "settings": settings,
        "device": provenance.device_info(plan.settings["device"]),
        "code": provenance.git_revision(),
        "packages": provenance.package_versions(),
        "command": command,
        "execution": execution,
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "wall_time_s": round((finished - started).total_seconds(), 3),
        "clips": clips,
        "failures": failures,
        "results": results,
        "files": {"clips": "clips.jsonl", "plan": "run.json"},
        **({"skipped_metrics": list(skipped_metrics)} if skipped_metrics else {}),
    }
    # last: the digest of the rows reduced and the seal over what the record reports from them
    record["integrity"] = integrity_block(record, [rows[c.key].to_json() for c in plan.clips if c.key in rows])
    return record


def scoring_threads(plan: RunPlan, specs: list[dict], rows: dict[str, ClipRow]) -> list[int]:
    """The torch thread counts the reported scores were computed with (rows from before they said: not counted).

    One number for a run scored in one go; more when a run whose frames do not depend on the
    threads was resumed or merged across thread counts (CPU values then differ in the last digits).
    """
    columns = {m["column"] for m in specs}
    found = {
        outcome.threads
        for c in plan.clips
        if c.key in rows
        for column, outcome in rows[c.key].outcomes.items()
        if column in columns and outcome.threads is not None
    }
    return sorted(found)


def mixed_threads_warning(threads: list[int]) -> str | None:
    if len(threads) < 2:
        return None
    return (
        f"this run's scores were computed with {' and '.join(map(str, threads))} torch threads "
        "(record.json settings.scoring_threads): CPU values may differ in the last digits from a run "
        "scored with one thread count; for bit-identical numbers score it again in a new --out with one --threads"
    )


class _NoBar:
    def update(self, n): ...
    def set_postfix_str(self, s): ...
    def write(self, s):
        print(s, file=sys.stderr)

    def close(self): ...


def progress_bar(total: int, initial: int, desc: str, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="clip", dynamic_ncols=True)
