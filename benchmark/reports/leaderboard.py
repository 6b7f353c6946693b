"""The leaderboard tables: runs x metric variants per protocol, best value per column marked (rendered by benchmark/reports/site.py).

Cells are built from the `RunMetric`s of `benchmark.reports.frames.run_metrics` (the rows `load_runs`
returns), the table model the paper tables share, and printed by `benchmark.reports.cells.format_number`
at the leaderboard's precision; the best is chosen by `benchmark.reports.ranking.rank`, the rule the
paper and results tables use too.

Reference rows (ground truth: the ceiling; still image: the floor) are shown but never ranked,
and neither are incomplete runs (a --limit subset, a shard, a partial corpus: said in the row) nor
a value that did not use every clip of the run (coverage "3/4"): a model must not win on its easy
clips, nor a record that does not match its rows (`records.integrity_problem`: shown, marked ⚠).
A column is ranked only among two models or more; a metric whose best is the ground truth's value (CPBD, blink rate) is ranked by distance to it. Rows are labelled by the run's
--name; two runs sharing a label show their run ids. Shards of a run that was merged are not
listed beside the merged run, nor are copies of one run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from benchmark.reports.cells import LEADERBOARD, format_number
from benchmark.reports.frames import REFERENCE_ADAPTERS, RunMetric, run_metrics
from benchmark.core.errors import BenchError
from benchmark.reports.ranking import MEANING, Entry, rank, sort_key
from benchmark.core.records import integrity_problem, run_completeness, run_label


def _format(value: float | None, unit: str) -> str:
    return format_number(value, LEADERBOARD, unit)


def _cell(found: RunMetric | None) -> dict:
    """A leaderboard cell from a run's `RunMetric` (None: the run did not ask for the metric)."""
    if found is None or found.value is None:
        return {
            "value": None,
            "text": found.status if found else "not run",
            "ci": "",
            "best": False,
            "coverage": found.partial_coverage if found else "",
            "target": None,
        }
    unit = found.unit
    ci = (
        f"95% CI {_format(found.ci95_low, unit)}–{_format(found.ci95_high, unit)}" if found.ci95_low is not None else ""
    )
    if found.reference_value is not None:  # e.g. blink rate: the ground truth's own value beside it
        ci = f"ground truth {_format(found.reference_value, unit)}" + (f" · {ci}" if ci else "")
    return {
        "value": found.value,
        "text": _format(found.value, unit),
        "ci": ci,
        "n": found.n,
        "best": False,
        "coverage": found.partial_coverage,
        "target": found.reference_value,
    }


def distinct_runs(records: list[tuple[Path, dict]]) -> tuple[list[tuple[Path, dict]], list[tuple[str, str]]]:
    """Each run once: a merged run stands for its shards (same run id), the newest trusted record for copies of one run.

    Returns the records kept and, per record left out, (protocol id, a line saying which run it is listed as)."""
    by_run: dict[tuple[str, str], list[tuple[Path, dict]]] = defaultdict(list)
    for path, record in records:
        by_run[(record["protocol"]["id"], record["run_id"])].append((path, record))
    kept, hidden = [], []
    for group in by_run.values():
        whole = [(p, r) for p, r in group if not r["protocol"].get("shard")]
        if not whole:
            kept += group  # shards never merged: each is shown, incomplete
            continue
        # a copy whose record matches its rows stands for the group before any newer one that does not
        chosen = max(whole, key=lambda pr: (not integrity_problem(pr[1]), pr[1].get("finished_at", ""), str(pr[0])))
        kept.append(chosen)
        for path, record in group:
            if path != chosen[0]:
                shard = record["protocol"].get("shard")
                what = f"shard {shard[0]} of {shard[1]}" if shard else "a copy"
                hidden.append(
                    (record["protocol"]["id"], f"{path}: {what} of run {record['run_id'][:8]}, listed as {chosen[0]}")
                )
    order = {str(p): i for i, (p, _) in enumerate(records)}
    return sorted(kept, key=lambda pr: order[str(pr[0])]), sorted(hidden)


def _ground_truth_values(rows: list[dict]) -> dict[tuple[str, str], float]:
    """(clip-list fingerprint, variant) -> the ground-truth run's value: the target of closest-to-ground-truth metrics."""
    out = {}
    for r in rows:
        if r["adapter"] == REFERENCE_ADAPTERS[0] and not r["incomplete"] and not r["mismatch"]:
            for variant, cell in r["cells"].items():
                if cell["value"] is not None and not cell["coverage"]:
                    out[(r["fingerprint"], variant)] = cell["value"]
    return out


def leaderboard_tables(records: list[tuple[Path, dict]], sort_by: str | None = None) -> list[dict]:
    """Rows (runs) x columns (metric variants) per protocol, best per column marked; `sort_by` orders rows by a variant, best first."""
    records, hidden = distinct_runs(records)
    by_protocol: dict[str, list[tuple[Path, dict]]] = defaultdict(list)
    for path, record in records:
        by_protocol[record["protocol"]["id"]].append((path, record))
    if sort_by and not any(spec["variant"] == sort_by for _, r in records for spec in r["metrics"]):
        known = sorted({spec["variant"] for _, r in records for spec in r["metrics"]})
        raise BenchError(f"--sort {sort_by}: no run here has that metric", hint=f"one of: {', '.join(known)}")
    tables = []
    for protocol_id in sorted(by_protocol):
        runs = by_protocol[protocol_id]
        columns: dict[str, dict] = {}
        for _, record in runs:
            for spec in record["metrics"]:
                columns.setdefault(spec["variant"], spec)
        rows = []
        for path, record in runs:
            found = {m.variant: m for m in run_metrics(path, record)}  # the one table model
            cells = {variant: _cell(found.get(variant)) for variant in columns}
            tiny = " (tiny random config)" if record["adapter"].get("config", {}).get("tiny") else ""
            completeness = run_completeness(record)
            mismatch = integrity_problem(record)  # shown, every value marked, never ranked
            if mismatch:
                for cell in cells.values():
                    cell["text"] = f"⚠ {cell['text']}"
            rows.append(
                {
                    "model": run_label(record) + tiny,
                    "adapter": record["adapter"]["name"],
                    "run_id": record["run_id"],
                    "incomplete": "; ".join(completeness["reasons"]),
                    "mismatch": mismatch,
                    "reference": record["adapter"]["name"] in REFERENCE_ADAPTERS,
                    "adapter_fp": record["adapter"]["fingerprint"][:10],
                    "seed": record["seed"],
                    "clips": record["clips"],
                    "cells": cells,
                    "path": str(path),
                    "commit": (record.get("code", {}).get("commit") or "unknown")[:10],
                    "finished": record.get("finished_at", ""),
                    "fingerprint": record["protocol"]["clip_list_fingerprint"],
                }
            )
        shared = Counter(r["model"] for r in rows)
        for r in rows:
            if shared[r["model"]] > 1:  # the same label on two runs: tell them apart
                r["model"] += f" [run {r['run_id'][:8]}]"
        ground_truth = _ground_truth_values(rows)
        notes = {}
        for variant, spec in columns.items():
            for r in rows:
                cell = r["cells"][variant]
                if cell["target"] is None:  # no ground-truth value of its own: the ground-truth run's
                    cell["target"] = ground_truth.get((r["fingerprint"], variant))
            entries = [
                Entry(
                    i,
                    r["cells"][variant]["value"],
                    not r["reference"]
                    and not r["incomplete"]
                    and not r["mismatch"]
                    and not r["cells"][variant]["coverage"],
                    r["cells"][variant]["target"],
                )
                for i, r in enumerate(rows)
            ]
            ranking = rank(entries, spec["direction"], what=variant)
            for i, r in enumerate(rows):
                r["cells"][variant]["best"] = ranking.places.get(i) == 1
            notes[variant] = ranking.note
        sorted_by = ""
        if sort_by in columns:
            direction = columns[sort_by]["direction"]
            rows.sort(key=lambda r: sort_key(direction, r["cells"][sort_by]["value"], r["cells"][sort_by]["target"]))
            sorted_by = f"{sort_by}, {MEANING.get(direction, direction)}: best first"
        elif sort_by:
            sorted_by = f"not sorted: no {sort_by} on this protocol"
        tables.append(
            {
                "protocol": protocol_id,
                "columns": list(columns.values()),
                "rows": rows,
                "notes": notes,
                "sorted_by": sorted_by,
                "hidden": [line for protocol, line in hidden if protocol == protocol_id],
                "fingerprints": sorted({r["protocol"]["clip_list_fingerprint"][:12] for _, r in runs}),
            }
        )
    return tables
