"""The leaderboard tables: runs x metric variants per protocol, best value per column marked (rendered by benchmark/site.py).

Reference rows (ground truth: the ceiling; still image: the floor) are shown but never ranked,
and neither are incomplete runs (a --limit subset, a shard, a partial corpus: said in the row) nor
a value that did not use every clip of the run (coverage "3/4"): a model must not win on its easy
clips. Rows are labelled by the run's --name; two runs sharing a label show their run ids.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from pathlib import Path

from benchmark.records import run_completeness, run_label


def _format(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if unit == "dB" or abs(value) >= 10 else f"{value:.4f}"


REFERENCE_ADAPTERS = ("ground-truth", "still")


def empty_status(result: dict | None) -> str:
    """Why a cell has no number: "not run" (never asked for), "failed" (ran, every clip failed), "n/a" (nothing to score)."""
    if result is None:
        return "not run"
    if result.get("n_failed") and not result.get("n_scored"):
        return "failed"
    return f"n/a: {result['na_reason'].split(':')[0]}" if result.get("na_reason") else "n/a"  # e.g. "n/a: no phone alignments"


def partial_coverage(result: dict | None) -> str:
    """"11/12" when a metric scored only some of the run's clips, else ""."""
    if not result or "n_scored" not in result or result["n_scored"] == result.get("n_clips"):
        return ""
    return result["coverage"]


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
            cells = {}
            specs = {s["variant"]: s for s in record["metrics"]}
            for variant, spec in columns.items():
                result = record["results"].get(variant) if variant in specs else None
                coverage = partial_coverage(result)
                if result is None or result.get("value") is None:
                    cells[variant] = {"value": None, "text": empty_status(result), "ci": "", "best": False,
                                      "coverage": coverage}
                else:
                    ci = result.get("ci95")
                    cells[variant] = {"value": result["value"], "text": _format(result["value"], spec.get("unit", "")),
                                      "ci": f"95% CI {_format(ci[0], spec.get('unit', ''))}–{_format(ci[1], spec.get('unit', ''))}" if ci else "",
                                      "n": result.get("n"), "best": False, "coverage": coverage}
            tiny = " (tiny random config)" if record["adapter"].get("config", {}).get("tiny") else ""
            completeness = run_completeness(record)
            for variant, cell in cells.items():
                reference = (record["results"].get(variant) or {}).get("reference_value")
                if cell["value"] is not None and reference is not None:  # e.g. blink rate: no better direction
                    cell["ci"] = (f"ground truth {_format(reference, columns[variant].get('unit', ''))}"
                                  + (f" · {cell['ci']}" if cell["ci"] else ""))
            rows.append({"model": run_label(record) + tiny, "adapter": record["adapter"]["name"], "run_id": record["run_id"],
                         "incomplete": "; ".join(completeness["reasons"]),
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
            ranked = [r for r in rows if not r["reference"] and not r["incomplete"] and not r["cells"][variant]["coverage"]]
            values = [r["cells"][variant]["value"] for r in ranked if r["cells"][variant]["value"] is not None]
            if values:
                best = max(values) if spec["direction"] == "higher" else min(values)
                for r in ranked:
                    r["cells"][variant]["best"] = r["cells"][variant]["value"] == best
        tables.append({"protocol": protocol_id, "columns": list(columns.values()), "rows": rows,
                       "fingerprints": sorted({r["protocol"]["clip_list_fingerprint"][:12] for _, r in runs})})
    return tables
