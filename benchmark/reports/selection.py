"""Which run fills a table row: one run per (label, protocol), complete runs by default, pins win.

A paper table must not change because someone made a smoke run: by default only complete runs
(every clip of the protocol attempted) are used, and two different complete runs under one label
are an error rather than a silent choice. A run directory named directly (`--runs DIR`) is
pinned: it is used even when incomplete, and its cells say so. `resolve_run` finds one run by its
label for `bench compare` (a path still works).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from benchmark.reports.frames import RunMetric, run_metrics
from benchmark.core.errors import BenchError
from benchmark.core.records import integrity_problem, is_run_dir, load_records, run_completeness, run_label

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
    def run_metrics(self) -> dict[str, RunMetric]:
        """The run's `RunMetric`s by metric variant: what every table cell is read from, built once."""
        return {m.variant: m for m in run_metrics(self.run_dir, self.record)}

    @property
    def reasons(self) -> list[str]:
        """Why the run is not used unless pinned, and flagged when it is: incomplete, or not matching its rows."""
        problem = integrity_problem(self.record)
        return run_completeness(self.record)["reasons"] + ([problem] if problem else [])

    @property
    def warning(self) -> str:
        """What a table says beside a pinned run's values: the worse of its problems."""
        if integrity_problem(self.record):
            return "RECORD DOES NOT MATCH ITS ROWS"
        return "INCOMPLETE RUN" if self.reasons else ""


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
            kinds = " or ".join(
                sorted(
                    {"incomplete" if run_completeness(r.record)["reasons"] else "not matching its rows" for r in runs}
                )
            )
            out.append(
                f"{label} on {protocol}: not used, every run found is {kinds}: {listed}. "
                f"Use one anyway by naming its folder: --runs {runs[0].run_dir}"
            )
        return out


def protocol_name(record: dict) -> str:
    """The protocol as `--dataset` names it: `mini`, `grid-s29`, `videos:my-lab` (a collection of your videos)."""
    name, protocol_id = record["protocol"]["name"], record["protocol"]["id"]
    return protocol_id.rsplit("/", 1)[0] if protocol_id.startswith(f"{name}:") else name


def on_protocol(record: dict, protocol: str) -> bool:
    """Whether a run is on the protocol a user named: by --dataset name (`videos:my-lab`) or full id (`mini/v1`)."""
    return protocol in (record["protocol"]["id"], protocol_name(record))


def select_runs(paths: list[Path], include_tiny: bool = False, protocol: str | None = None, log=None) -> Selection:
    """Pick the run for each (label, protocol name) among the runs found under `paths` (only `protocol`'s, if given).

    Protocols are told apart by `protocol_name`, so two collections of your own videos
    (`videos:a`, `videos:b`) are two protocols, not one. A run folder that cannot be read is left
    out with one line to `log` (default: a warning)."""
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
        if protocol is not None and not on_protocol(record, protocol):
            continue
        run = SelectedRun(run_dir, record, pinned=Path(run_dir).resolve() in pins)
        by_id = groups.setdefault((run.label, protocol_name(record)), {})
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
    listed = ", ".join(
        f"{r.run_dir} (seed {r.record['seed']}, run {r.record['run_id'][:8]})" for r in runs[:MAX_LISTED]
    )
    return BenchError(
        f"{len(runs)} different {kind} runs are labelled {label!r} on {protocol}: {listed}",
        hint=f"pin one by its folder (--runs {runs[0].run_dir}, or that path in place of the label), "
        f"or give the runs different labels with `bench run --name`",
    )


def resolve_run(ref: str | Path, paths: list[Path], protocol: str | None = None, log=None) -> Path:
    """A run folder from a path, or from a label (`bench compare jawflap still --dataset mini`).

    A label is looked up among the runs under `paths` (on `protocol` if given): its complete run,
    else its only run, else an error listing the candidates and how to pin one."""
    path = Path(ref)
    if is_run_dir(path):
        return path
    label = str(ref)
    records, unreadable = load_records([p for p in paths if Path(p).exists()])
    found = [
        (run_dir, record)
        for run_dir, record in records
        if run_label(record) == label and (protocol is None or on_protocol(record, protocol))
    ]
    if not found:
        from benchmark.engine.runner import folder_label

        labels = sorted({run_label(r) for _, r in records if protocol is None or on_protocol(r, protocol)})
        where = ", ".join(map(str, paths))
        named = [f"{d}: {why}" for d, why in unreadable if Path(d).name.startswith(folder_label(label) + "-")]
        raise BenchError(
            f"{label!r} is neither a run folder nor the label of a run under {where}"
            + (f" on {protocol}" if protocol else "")
            + (f"; a run folder of that name cannot be read: {named[0]}" if named else ""),
            hint=(f"labels there: {', '.join(labels[:12])}" if labels else "score one with `bench run --name ...`")
            + "; or search elsewhere with --runs FOLDER",
        )
    protocols = sorted({protocol_name(r) for _, r in found})
    if len(protocols) > 1:
        raise BenchError(
            f"{label!r} labels runs on {', '.join(protocols)}", hint=f"say which with --dataset {protocols[0]}"
        )
    by_id = {}
    for run_dir, record in found:  # one run copied (or merged from its shards) counts once: the whole, newest record
        known = by_id.get(record["run_id"])
        if known is None or (not record["protocol"].get("shard"), record["finished_at"]) > (
            not known[1]["protocol"].get("shard"),
            known[1]["finished_at"],
        ):
            by_id[record["run_id"]] = (run_dir, record)
    runs = [
        SelectedRun(d, r, pinned=False)
        for d, r in sorted(by_id.values(), key=lambda dr: dr[1]["finished_at"], reverse=True)
    ]
    complete = [r for r in runs if not r.reasons]
    chosen = complete or runs
    if len(chosen) > 1:
        raise _ambiguous((label, protocols[0]), chosen, "complete" if complete else "incomplete")
    if not complete and log:
        log(
            f"note: {label} on {protocols[0]} has no complete run; using {chosen[0].run_dir} ({'; '.join(chosen[0].reasons)})"
        )
    return chosen[0].run_dir
