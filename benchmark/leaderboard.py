"""A static HTML leaderboard: one sortable table per protocol, opened from disk, no internet."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from benchmark.errors import BenchError
from benchmark.records import find_run_dirs, load_record


def _format(value: float | None, unit: str) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}" if unit == "dB" or abs(value) >= 10 else f"{value:.4f}"


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
                if result is None or result.get("value") is None:
                    cells[variant] = {"value": None, "text": "not run", "ci": "", "best": False}
                else:
                    ci = result.get("ci95")
                    cells[variant] = {"value": result["value"], "text": _format(result["value"], spec.get("unit", "")),
                                      "ci": f"95% CI {_format(ci[0], spec.get('unit', ''))}–{_format(ci[1], spec.get('unit', ''))}" if ci else "",
                                      "n": result.get("n"), "best": False}
            rows.append({"model": record["adapter"]["name"], "adapter_fp": record["adapter"]["fingerprint"][:10],
                         "seed": record["seed"], "clips": record["clips"], "cells": cells, "path": str(path),
                         "commit": (record.get("code", {}).get("commit") or "unknown")[:10],
                         "finished": record.get("finished_at", "")})
        for variant, spec in columns.items():
            if spec["direction"] not in ("higher", "lower"):
                continue  # e.g. blink rate: neither more nor fewer is better
            values = [r["cells"][variant]["value"] for r in rows if r["cells"][variant]["value"] is not None]
            if values:
                best = max(values) if spec["direction"] == "higher" else min(values)
                for r in rows:
                    r["cells"][variant]["best"] = r["cells"][variant]["value"] == best
        tables.append({"protocol": protocol_id, "columns": list(columns.values()), "rows": rows,
                       "fingerprints": sorted({r["protocol"]["clip_list_fingerprint"][:12] for _, r in runs})})
    return tables


def build_leaderboard(paths: list[Path], out_dir: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """Write `out_dir/index.html`; return its path and the run folders skipped with why."""
    records, skipped = [], []
    for run_dir in find_run_dirs(paths):
        try:
            records.append((run_dir, load_record(run_dir)))
        except BenchError as exc:
            skipped.append((run_dir, exc.message))
    if not records:
        raise BenchError(f"no complete runs found in {', '.join(map(str, paths))}", hint="run `bench run ...` first")
    env = Environment(loader=PackageLoader("benchmark", "templates"), autoescape=select_autoescape(default=True))
    html = env.get_template("leaderboard.html.j2").render(
        tables=leaderboard_tables(records), generated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = out_dir / "index.html"
    index.write_text(html, encoding="utf-8")
    return index, skipped
