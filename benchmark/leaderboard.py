"""The leaderboard tables: runs x metric variants per protocol, best value per column marked (rendered by benchmark/site.py).

Cells are built from the metric rows of `benchmark.dataframes.run_metric_rows` (what `load_runs`
returns), the table model the paper tables share.

Reference rows (ground truth: the ceiling; still image: the floor) are shown but never ranked,
and neither are incomplete runs (a --limit subset, a shard, a partial corpus: said in the row), a
value that did not use every clip of the run (coverage "3/4"): a model must not win on its easy
clips, nor a record that does not match its rows (`records.integrity_problem`: shown, marked ⚠). Rows are labelled by the run's --name; two runs sharing a label show their run ids.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

from benchmark.dataframes import REFERENCE_ADAPTERS, run_metric_rows
from benchmark.records import integrity_problem, run_completeness, run_label


def _format(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if unit == "dB" or abs(value) >= 10 else f"{value:.4f}"


def _cell(row: dict | None) -> dict:
    """A leaderboard cell from a metric row of `run_metric_rows` (None: the run did not ask for the metric)."""
    if row is None or row["value"] is None:
        return {"value": None, "text": row["status"] if row else "not run", "ci": "", "best": False,
                "coverage": row["partial_coverage"] if row else ""}
    unit = row["unit"]
    ci = (f"95% CI {_format(row['ci95_low'], unit)}–{_format(row['ci95_high'], unit)}"
          if row["ci95_low"] is not None else "")
    if row["reference_value"] is not None:  # e.g. blink rate: no better direction, ground truth beside it
        ci = f"ground truth {_format(row['reference_value'], unit)}" + (f" · {ci}" if ci else "")
    return {"value": row["value"], "text": _format(row["value"], unit), "ci": ci, "n": row["n"], "best": False,
            "coverage": row["partial_coverage"]}


def leaderboard_tables(records: list[tuple[Path, dict]]) -> list[dict]:
    """Rows (runs) x columns (metric variants) per protocol, best per column marked."""
    by_protocol: dict[str, list[tuple[Path, dict]]] = defaultdict(list)
    for path, record in records:
        by_protocol[record["protocol"]["id"]].append((path, record))
    tables = []
    for protocol_id in sorted(by_protocol):
        runs = by_protocol[protocol_id]
        columns: dict[str, dict] = {}
        for _, record in runs:
            for spec in record["metrics"]:
                columns.setdefault(spec["variant"], spec)
        rows = []
        for path, record in runs:
            metric_rows = {m["variant"]: m for m in run_metric_rows(path, record)}  # the one table model
            cells = {variant: _cell(metric_rows.get(variant)) for variant in columns}
            tiny = " (tiny random config)" if record["adapter"].get("config", {}).get("tiny") else ""
            completeness = run_completeness(record)
            mismatch = integrity_problem(record)  # shown, every value marked, never ranked
            if mismatch:
                for cell in cells.values():
                    cell["text"] = f"⚠ {cell['text']}"
            rows.append({"model": run_label(record) + tiny, "adapter": record["adapter"]["name"], "run_id": record["run_id"],
                         "incomplete": "; ".join(completeness["reasons"]), "mismatch": mismatch,
                         "reference": record["adapter"]["name"] in REFERENCE_ADAPTERS, "adapter_fp": record["adapter"]["fingerprint"][:10],
                         "seed": record["seed"], "clips": record["clips"], "cells": cells, "path": str(path),
                         "commit": (record.get("code", {}).get("commit") or "unknown")[:10],
                         "finished": record.get("finished_at", "")})
        shared = Counter(r["model"] for r in rows)
        for r in rows:
            if shared[r["model"]] > 1:  # the same label on two runs: tell them apart
                r["model"] += f" [run {r['run_id'][:8]}]"
        for variant, spec in columns.items():
            if spec["direction"] not in ("higher", "lower"):
                continue  # e.g. blink rate: neither more nor fewer is better
            ranked = [r for r in rows if not r["reference"] and not r["incomplete"] and not r["mismatch"]
                      and not r["cells"][variant]["coverage"]]
            values = [r["cells"][variant]["value"] for r in ranked if r["cells"][variant]["value"] is not None]
            if values:
                best = max(values) if spec["direction"] == "higher" else min(values)
                for r in ranked:
                    r["cells"][variant]["best"] = r["cells"][variant]["value"] == best
        tables.append({"protocol": protocol_id, "columns": list(columns.values()), "rows": rows,
                       "fingerprints": sorted({r["protocol"]["clip_list_fingerprint"][:12] for _, r in runs})})
    return tables
