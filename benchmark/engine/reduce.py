"""Rows -> results: a pure function of the per-clip rows taken in protocol order.

Whatever executor, worker count, shard split or completion order produced the rows, folding
them in the plan's clip order gives the same bytes: float sums are added in one fixed order.
Each metric reports its own coverage: `n` clips with a value, and the clips where it failed or
did not apply, with reasons; a clip whose generation failed counts against every metric.
"""

from __future__ import annotations

from typing import Callable

from benchmark.core.rows import ClipRow
from benchmark.engine.plan import PlannedClip

MAX_LISTED_FAILURES = 50


def aggregation_of(spec: dict):
    """The metric's declared aggregation for its recorded variant and parameters (no metric is built)."""
    from metrics import recorded_metric

    return recorded_metric(spec).aggregation


def new_state(spec: dict):
    """The metric's empty mergeable state, from its declared aggregation."""
    return aggregation_of(spec).new_state()


def reduce_column(
    spec: dict, clips: list[PlannedClip], rows: dict[str, ClipRow], load_artifacts: Callable[[str], dict]
) -> dict:
    """One metric's result over the plan's clips (rows by key; a clip with no row is 'missing')."""
    column = spec["column"]
    aggregation = aggregation_of(spec)
    state = aggregation.new_state()
    consumes = aggregation.consumes_artifacts
    failures, n_failed, n_na, n_ok = [], 0, 0, 0
    na_reasons = set()
    for clip in clips:
        row = rows.get(clip.key)
        outcome = row.outcomes.get(column) if row is not None and row.ok else None
        if row is None:
            status, reason = "failed", "not scored (never attempted: the run was interrupted, or its shard not merged)"
        elif not row.ok:
            status, reason = "failed", f"clip failed at {row.failure_text()}"
        elif outcome is None:
            status, reason = "failed", "not scored"
        else:
            status, reason = outcome.status, outcome.reason or ""
        if status == "ok":
            n_ok += 1
            artifacts = load_artifacts(outcome.artifact) if consumes and outcome.artifact else None
            state.add(outcome.value, outcome.pooled, artifacts)
            continue
        if status == "n/a":
            n_na += 1
            na_reasons.add(reason)
        else:
            n_failed += 1
        if len(failures) < MAX_LISTED_FAILURES:
            failures.append({"clip_id": clip.id, "status": status, "reason": reason})
    summary = state.compute()
    summary.update(
        n_failed=n_failed,
        n_na=n_na,
        n_clips=len(clips),
        n_scored=n_ok,
        coverage=f"{n_ok}/{len(clips)}",
        failures=failures,
    )
    if clips and n_na == len(clips) and len(na_reasons) == 1:  # the metric does not apply to this protocol
        summary["na_reason"] = na_reasons.pop()
    return summary


def reduce_results(
    specs: list[dict], clips: list[PlannedClip], rows: dict[str, ClipRow], load_artifacts: Callable[[str], dict]
) -> dict[str, dict]:
    return {spec["variant"]: reduce_column(spec, clips, rows, load_artifacts) for spec in specs}


def clip_summary(clips: list[PlannedClip], rows: dict[str, ClipRow]) -> tuple[dict, list[dict]]:
    """Clip-level counts and the clips that failed before any metric (load, generate, validate).

    `conformed` (only when some clip was) counts the scored clips whose frames were resized,
    resampled or trimmed/padded to fit the clip, so a reader of the record sees it was done.
    """
    failures, conformed = [], {}
    for clip in clips:
        row = rows.get(clip.key)
        if row is None:
            failures.append(
                {
                    "clip_id": clip.id,
                    "stage": "missing",
                    "type": "Missing",
                    "message": "no row: never attempted (the run was interrupted, or its shard not merged)",
                }
            )
        elif not row.ok:
            failures.append({"clip_id": clip.id, **row.error})
        else:
            for kind in row.conformed or {}:
                conformed[kind] = conformed.get(kind, 0) + 1
    summary = {"total": len(clips), "scored": len(clips) - len(failures), "failed": len(failures)}
    if conformed:
        summary["conformed"] = dict(sorted(conformed.items()))
    return summary, failures
