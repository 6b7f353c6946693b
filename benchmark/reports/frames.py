"""Results as pandas DataFrames, and the one table model behind every table this harness prints.

    from benchmark import load_runs, load_clips
    runs = load_runs(["results/runs"])          # one row per run x metric, with provenance columns
    clips = load_clips(["results/runs"])         # one row per run x clip, one column per metric
    clips[clips.label == "my-model"]            # both carry label, run_id, protocol and run_dir

The protocol is called `protocol` everywhere (its id, e.g. `mini/v1` or `videos:my-lab/v1`);
the former `dataset` column still reads, with a FutureWarning, for one release.

Every number keeps what it depends on beside it (variant, backend, parameters, protocol version,
adapter fingerprint, weights, seeds, code commit, run folder), so a figure made from these frames
can be traced back as a table made by `bench table` can. The rows of `load_runs` are `RunMetric`s
(`run_metrics`: one per run x metric variant, with why a value is missing): what the leaderboard and
the paper tables (benchmark/reports/tables.py) build their cells from, so a number and its status
read the same everywhere. Words as in docs/glossary.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from benchmark.core.errors import BenchError
from benchmark.core.records import (
    integrity_of,
    integrity_problem,
    is_run_dir,
    load_record,
    load_records,
    load_rows,
    run_completeness,
    run_label,
)

if TYPE_CHECKING:
    import pandas as pd

REFERENCE_ADAPTERS = ("ground-truth", "still")  # shown beside models as ceiling and floor, never ranked


def empty_status(result: dict | None) -> str:
    """Why a cell has no number: "not run" (never asked for), "failed" (ran, every clip failed), "n/a" (nothing to score)."""
    if result is None:
        return "not run"
    if result.get("n_failed") and not result.get("n_scored"):
        return "failed"
    return (
        f"n/a: {result['na_reason'].split(':')[0]}" if result.get("na_reason") else "n/a"
    )  # e.g. "n/a: no phone alignments"


def partial_coverage(result: dict | None) -> str:
    """ "11/12" when a metric scored only some of the run's clips, else ""."""
    if not result or "n_scored" not in result or result["n_scored"] == result.get("n_clips"):
        return ""
    return result["coverage"]


def _pandas():
    try:
        import pandas as pd
    except ImportError:
        raise BenchError(
            "pandas is not installed in this environment",
            hint="pip install 'pandas>=2.0' (it is a dependency of talking-head-bench)",
        ) from None
    return pd


@dataclass(frozen=True)
class RunMetric:
    """One run's result for one metric variant, with the run's provenance beside it: a row of
    `load_runs` (its fields are the frame's columns, in order) and the source of every table and
    leaderboard cell. `status` is "scored" when there is a value, else why not (`empty_status`);
    `partial_coverage` is "11/12" when the value did not use every clip of the run (never ranked);
    `reference_value` is the ground truth's value the metric recorded beside the run's (blink rate,
    CPBD: the target of a closest-to-ground-truth ranking); `reference_run` says the run is of a
    reference adapter (ground truth, still): shown, never ranked."""

    label: str
    model: str  # the adapter's registered name (`--model`)
    protocol: str  # the protocol's id, e.g. mini/v2
    protocol_version: str | None
    metric: str  # the metric family, e.g. lse-c
    variant: str  # the metric variant, e.g. lse-c-syncnet-python
    value: float | None
    status: str
    ci95_low: float | None
    ci95_high: float | None
    n: int | None
    coverage: str | None
    partial_coverage: str
    n_scored: int | None
    n_clips: int | None
    n_failed: int | None
    n_na: int | None
    na_reason: str | None
    direction: str | None
    unit: str
    backend: str | None
    params: str  # JSON, sorted keys
    resolution: str | None
    reference_value: float | None
    reference_run: bool
    complete: bool
    incomplete_reasons: str
    run_id: str
    run_dir: str
    seed: int | None
    subset_limit: int | None
    subset_seed: int | None
    shard: str | None
    adapter_fingerprint: str | None
    weights: str  # JSON, sorted keys
    device: str | None
    torch: str | None
    code_commit: str | None
    code_dirty: bool | None
    finished_at: str | None
    integrity: str


RUN_COLUMNS = tuple(f.name for f in fields(RunMetric))


def run_metrics(run_dir: Path, record: dict) -> list[RunMetric]:
    """One `RunMetric` per metric of a record, in the record's order."""
    protocol, adapter = record["protocol"], record["adapter"]
    completeness = run_completeness(record)
    common = {
        "label": run_label(record),
        "model": adapter["name"],
        "protocol": protocol["id"],
        "protocol_version": protocol.get("version"),
        "complete": completeness["complete"],
        "incomplete_reasons": "; ".join(completeness["reasons"]),
        "run_id": record["run_id"],
        "run_dir": str(run_dir),
        "seed": record.get("seed"),
        "subset_limit": (protocol.get("subset") or {}).get("limit"),
        "subset_seed": (protocol.get("subset") or {}).get("seed"),
        "shard": _shard_text(protocol.get("shard")),
        "adapter_fingerprint": adapter.get("fingerprint"),
        "weights": json.dumps(adapter.get("weights") or {}, sort_keys=True),
        "device": record.get("device", {}).get("requested"),
        "torch": record.get("device", {}).get("torch"),
        "code_commit": record.get("code", {}).get("commit"),
        "code_dirty": record.get("code", {}).get("dirty"),
        "finished_at": record.get("finished_at"),
        "reference_run": adapter["name"] in REFERENCE_ADAPTERS,
        "integrity": integrity_of(record),  # "verified", "no digest" (older record) or "MISMATCH: why"
    }
    out = []
    for spec in record["metrics"]:
        found = record["results"].get(spec["variant"])
        status = "scored" if found and found.get("value") is not None else empty_status(found)
        result = found or {}
        ci = result.get("ci95") or [None, None]
        out.append(
            RunMetric(
                **common,
                metric=spec["name"],
                variant=spec["variant"],
                value=result.get("value"),
                status=status,
                ci95_low=ci[0],
                ci95_high=ci[1],
                n=result.get("n"),
                coverage=result.get("coverage"),
                partial_coverage=partial_coverage(result),
                n_scored=result.get("n_scored"),
                n_clips=result.get("n_clips"),
                n_failed=result.get("n_failed"),
                n_na=result.get("n_na"),
                na_reason=result.get("na_reason"),
                direction=spec.get("direction"),
                unit=spec.get("unit", ""),
                backend=spec.get("backend"),
                params=json.dumps(spec.get("params") or {}, sort_keys=True),
                resolution="x".join(str(v) for v in spec["resolution"]) if spec.get("resolution") else None,
                reference_value=result.get("reference_value"),
            )
        )
    return out


def _shard_text(shard) -> str | None:
    return f"{shard[0]}/{shard[1]}" if shard else None


def load_runs(paths, complete_only: bool = False) -> pd.DataFrame:
    """Every run found under `paths` (run folders or folders of them): one row per run x metric.

    `params` and `weights` are JSON strings (sorted keys), so the frame stays flat and comparable.
    Runs whose record cannot be read are left out with a warning naming the folder (listed in
    `frame.attrs["skipped"]`); a record that does not match its rows is kept, its `integrity`
    column saying why, with a warning. `complete_only` keeps complete runs only (the ones
    `bench table` and the leaderboard rank).
    """
    import warnings

    frame, problems = _runs_frame(paths, complete_only)
    for line in problems:
        warnings.warn(line, stacklevel=2)
    return frame


def _runs_frame(paths, complete_only: bool) -> tuple[pd.DataFrame, list[str]]:
    """`load_runs`' frame, and one line per run left out or not matching its rows."""
    pd = _pandas()
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    records, skipped = load_records(paths)
    problems = [f"skipped {run_dir}: {reason}" for run_dir, reason in skipped]
    problems += [f"{run_dir}: {integrity_problem(record)}" for run_dir, record in records if integrity_problem(record)]
    rows = [asdict(m) for run_dir, record in records for m in run_metrics(run_dir, record)]
    frame = _frame_class(pd)(rows, columns=list(RUN_COLUMNS))
    if complete_only:
        frame = frame[frame["complete"]].reset_index(drop=True)
    frame.attrs["skipped"] = [(str(run_dir), reason) for run_dir, reason in skipped]
    return frame, problems


RENAMED_COLUMNS = {"dataset": "protocol"}  # old name -> new: still readable, with a FutureWarning


def _renamed(name):
    if isinstance(name, str) and name in RENAMED_COLUMNS:
        import warnings

        warnings.warn(
            f"the {name!r} column is now {RENAMED_COLUMNS[name]!r}; {name!r} will stop working",
            FutureWarning,
            stacklevel=3,
        )
        return RENAMED_COLUMNS[name]
    return name


_FRAME_CLASS = None


def _frame_class(pd):
    """A DataFrame that still answers `frame["dataset"]` / `frame.dataset` with the `protocol` column (and warns)."""
    global _FRAME_CLASS
    if _FRAME_CLASS is None:

        class ResultsFrame(pd.DataFrame):
            @property
            def _constructor(self):
                return ResultsFrame

            def __getitem__(self, key):
                if isinstance(key, str) and key not in self.columns and _renamed_target(key, self.columns):
                    key = _renamed(key)
                return super().__getitem__(key)

            def __getattr__(self, name):
                if name in RENAMED_COLUMNS and _renamed_target(name, self.columns):
                    return self[_renamed(name)]
                return super().__getattr__(name)

        _FRAME_CLASS = ResultsFrame
    return _FRAME_CLASS


def _renamed_target(name: str, columns) -> bool:
    return name in RENAMED_COLUMNS and name not in columns and RENAMED_COLUMNS[name] in columns


CLIP_RUN_COLUMNS = ("label", "run_id", "protocol", "run_dir")


def load_clips(paths) -> pd.DataFrame:
    """One row per clip of each run found under `paths` (run folders or folders of them, as `load_runs`).

    Columns: label, run_id, protocol, run_dir, then clip id, speaker, status, error, timings and
    one column per metric variant (the union over the runs; NaN where a run has no such metric).
    A metric that failed or was not applicable on a clip is NaN there, with its status in
    `<variant>:status` and reason in `<variant>:reason`. Given one run folder, `frame.attrs`
    also holds its run_id, label and run_dir.
    """
    pd = _pandas()
    paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    if len(paths) == 1 and is_run_dir(paths[0]):
        records = [(paths[0], load_record(paths[0]))]  # named directly: an unreadable run is an error, not a skip
    else:
        records, _ = load_records(paths)
    frames = [_clip_rows(pd, run_dir, record) for run_dir, record in records]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*CLIP_RUN_COLUMNS, "clip_id"])
    frame = _frame_class(pd)(frame)
    if len(records) == 1:
        run_dir, record = records[0]
        frame.attrs.update(
            run_id=record["run_id"], label=run_label(record), run_dir=str(run_dir), integrity=integrity_of(record)
        )
    return frame


def _clip_rows(pd, run_dir: Path, record: dict) -> pd.DataFrame:
    variants = [spec["variant"] for spec in record["metrics"]]
    which = {
        "label": run_label(record),
        "run_id": record["run_id"],
        "protocol": record["protocol"]["id"],
        "run_dir": str(run_dir),
    }
    rows = []
    for row in load_rows(run_dir, record):
        out = {
            **which,
            "clip_id": row["clip_id"],
            "speaker": row.get("speaker"),
            "status": row["status"],
            "error": (row.get("error") or {}).get("message"),
            "n_frames": row.get("n_frames"),
            "generate_s": (row.get("timing") or {}).get("generate_s"),
            "conformed": ",".join(sorted(row.get("conformed") or {})) or None,
        }
        for variant in variants:
            outcome = row["outcomes"].get(variant, {})
            out[variant] = row["metrics"].get(variant)
            out[f"{variant}:status"] = outcome.get("status")
            out[f"{variant}:reason"] = outcome.get("reason")
        rows.append(out)
    frame = pd.DataFrame(rows, columns=None if rows else [*which, "clip_id"])
    if integrity_problem(record):
        import warnings

        warnings.warn(f"{run_dir}: {integrity_problem(record)}", stacklevel=2)
    return frame


EXPORT_FORMATS = ("csv", "json", "parquet")


def export_results(paths, out: Path, fmt: str, complete_only: bool = False, log=None) -> int:
    """Write `load_runs(paths)` to `out` as csv, json (records) or parquet; the number of rows written.

    `log` (the CLI: stderr) gets one line per run left out and per record that does not match
    its rows; without it they are Python warnings, as from `load_runs`.
    """
    import warnings

    frame, problems = _runs_frame(paths, complete_only)
    for line in problems:
        if log:
            log(f"warning: {line}")
        else:
            warnings.warn(line, stacklevel=2)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(out, index=False)
    elif fmt == "json":
        frame.to_json(out, orient="records", indent=1)
    elif fmt == "parquet":
        try:
            frame.to_parquet(out, index=False)
        except ImportError:
            raise BenchError(
                "parquet needs pyarrow, which is not installed", hint="pip install pyarrow, or use --format csv / json"
            ) from None
    else:
        raise BenchError(f"--format {fmt!r}: not one of {', '.join(EXPORT_FORMATS)}", hint="--format csv")
    return len(frame)
