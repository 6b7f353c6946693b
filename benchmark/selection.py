"""Which run fills a table row: one run per (label, protocol), complete runs by default, pins win.

A paper table must not change because someone made a smoke run: by default only complete runs
(every clip of the protocol attempted) are used, and two different complete runs under one label
are an error rather than a silent choice. A run directory named directly (`--runs DIR`) is
pinned: it is used even when incomplete, and its cells say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from benchmark.dataframes import run_metric_rows
from benchmark.errors import BenchError
from benchmark.records import integrity_problem, is_run_dir, load_records, run_completeness, run_label

MAX_LISTED = 4


@dataclass
class SelectedRun:
    run_dir: Path
    record: dict
    pinned: bool

    @property
    def label(self) -> str:
        return run_label(self.record)

    @cached_property
    def metric_rows(self) -> dict[str, dict]:
        """The run's `run_metric_rows` by metric variant: what every table cell is read from, built once."""
        return {row["variant"]: row for row in run_metric_rows(self.run_dir, self.record)}

    @property
    def reasons(self) -> list[str]:
        """Why the run is not used unless pinned, and flagged when it is: incomplete, or not matching its rows."""
        problem = integrity_problem(self.record)
        return run_completeness(self.record)["reasons"] + ([problem] if problem else [])


@dataclass
class Selection:
    runs: dict[tuple[str, str], SelectedRun] = field(default_factory=dict)  # (label, protocol name) -> run
    passed_over: dict[tuple[str, str], list[SelectedRun]] = field(default_factory=dict)  # incomplete, not pinned

    def notes(self) -> list[str]:
        """One line per (label, protocol) left out because only incomplete runs exist."""
        out = []
        for (label, protocol), runs in sorted(self.passed_over.items()):
            if (label, protocol) in self.runs:
                continue
            listed = "; ".join(f"{r.run_dir} ({', '.join(r.reasons)})" for r in runs[:MAX_LISTED])
            out.append(f"{label} on {protocol}: not used, only incomplete runs found: {listed}. "
                       f"Use one anyway by naming its folder: --runs {runs[0].run_dir}")
        return out


def select_runs(paths: list[Path], include_tiny: bool = False, log=None) -> Selection:
    """Pick the run for each (label, protocol name) among the runs found under `paths`.

    A run folder that cannot be read is left out with one line to `log` (default: a warning)."""
    import warnings

    pins = {Path(p).resolve() for p in paths if is_run_dir(Path(p))}
    groups: dict[tuple[str, str], dict[str, SelectedRun]] = {}
    records, skipped = load_records(list(paths)) if paths else ([], [])
    for run_dir, reason in skipped:
        if log:
            log(f"skipped {run_dir}: {reason}")
        else:
            warnings.warn(f"skipped {run_dir}: {reason}", stacklevel=2)
    for run_dir, record in records:
        if record["adapter"].get("config", {}).get("tiny") and not include_tiny:
            continue  # random weights: a pipeline test, never a number for a table
        run = SelectedRun(run_dir, record, pinned=Path(run_dir).resolve() in pins)
        by_id = groups.setdefault((run.label, record["protocol"]["name"]), {})
        known = by_id.get(record["run_id"])  # the same run copied elsewhere: keep the newest record
        if known is None or (run.pinned, record["finished_at"]) > (known.pinned, known.record["finished_at"]):
            by_id[record["run_id"]] = run
    selection = Selection()
    for key, by_id in sorted(groups.items()):
        runs = sorted(by_id.values(), key=lambda r: r.record["finished_at"], reverse=True)
        pinned = [r for r in runs if r.pinned]
        complete = [r for r in runs if not r.reasons]
        chosen = pinned or complete
        if len(chosen) > 1:
            raise _ambiguous(key, chosen, "pinned" if pinned else "complete")
        if chosen:
            selection.runs[key] = chosen[0]
        else:
            selection.passed_over[key] = runs
    return selection


def _ambiguous(key: tuple[str, str], runs: list[SelectedRun], kind: str) -> BenchError:
    label, protocol = key
    listed = ", ".join(f"{r.run_dir} (seed {r.record['seed']}, run {r.record['run_id'][:8]})" for r in runs[:MAX_LISTED])
    return BenchError(f"{len(runs)} different {kind} runs are labelled {label!r} on {protocol}: {listed}",
                      hint=f"pin one with --runs {runs[0].run_dir}, or give the runs different labels with `bench run --name`")
