"""Clip rows are typed in memory and written byte for byte as before (issue 25, item 4).

The engine's worker, runner, reduce and merge work on `ClipRow` / `MetricOutcome`; only their
`to_json` / `from_json` see the file. Rows already on disk (older harness versions, fields a newer
one adds) must come back unchanged, or resumed runs would append other bytes and a record's rows
digest would change for the same rows.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from benchmark.core.records import rows_digest
from benchmark.core.rows import ClipRow, MetricOutcome
from benchmark.engine.plan import PlannedClip
from benchmark.engine.reduce import clip_summary, reduce_column
from benchmark.engine.runner import merge_rows

KEY = "a" * 64
SCORED = {
    "key": KEY,
    "clip_id": "s1_a",
    "speaker": "s1",
    "clip_fingerprint": "c1",
    "adapter_fingerprint": "f1",
    "seed": 7,
    "status": "ok",
    "fps": 25.0,
    "n_frames": 50,
    "video": {"source": "generated", "sha256": "v1"},
    "timing": {"generate_s": 0.5, "reference_s": 0.1},
    "scores": {
        "psnr@1": {"status": "ok", "value": 31.5, "seconds": 0.02, "threads": 2},
        "bilabial@2": {"status": "n/a", "value": None, "reason": "no phone timings", "seconds": 0.0, "threads": 2},
        "lmd@3": {"status": "failed", "value": None, "reason": "ClipError: no face", "seconds": 0.3, "threads": 2},
        "fid@4": {"status": "ok", "value": None, "artifact": "artifacts/fid@4/s1_a.npz", "seconds": 1.0, "threads": 2},
        "blink@5": {
            "status": "ok",
            "value": 0,
            "pooled": {"blinks": 1, "seconds": 2.0},
            "extras": {"n_blinks": 1},
            "seconds": 0.1,
            "threads": 2,
        },
    },
}
OLDER = {
    "key": "b" * 64,
    "clip_id": "s1_b",
    "speaker": "s1",
    "clip_fingerprint": "c2",
    "adapter_fingerprint": "f1",
    "seed": 8,
    "status": "ok",
    "timing": {},
    "scores": {"psnr@1": {"status": "ok", "value": 30.25}},
}  # no fps, seconds, threads
FAILED = {
    "key": "c" * 64,
    "clip_id": "s2_a",
    "speaker": "s2",
    "clip_fingerprint": "c3",
    "adapter_fingerprint": "f1",
    "seed": 9,
    "status": "failed",
    "timing": {},
    "scores": {},
    "input": {"problem": "no file"},
    "error": {"stage": "generate", "type": "ClipError", "message": "no s2_a.mp4"},
}
NEWER = {
    **OLDER,
    "key": "d" * 64,
    "future_field": [1, 2],
    "scores": {"psnr@1": {"status": "ok", "value": 1.0, "note": "x"}},
}
ROWS = [SCORED, OLDER, FAILED, NEWER]


@pytest.mark.parametrize("row", ROWS, ids=["scored", "older", "failed", "newer"])
def test_a_row_read_and_written_back_is_the_same_json(row):
    typed = ClipRow.from_json(json.loads(json.dumps(row)))
    assert json.dumps(typed.to_json(), sort_keys=True) == json.dumps(row, sort_keys=True)


def test_rows_are_typed_in_memory():
    row = ClipRow.from_json(SCORED)
    assert row.ok and row.video["sha256"] == "v1" and row.timing["generate_s"] == 0.5
    assert row.outcomes["psnr@1"] == MetricOutcome("ok", 31.5, seconds=0.02, threads=2)
    assert row.outcomes["bilabial@2"].reason == "no phone timings" and not row.outcomes["lmd@3"].ok
    assert row.outcomes["blink@5"].pooled == {"blinks": 1, "seconds": 2.0}
    failed = ClipRow.from_json(FAILED)
    assert not failed.ok and failed.failure_text() == "generate: no s2_a.mp4"


def test_the_rows_digest_is_unchanged_by_the_round_trip():
    assert rows_digest([ClipRow.from_json(r).to_json() for r in ROWS]) == rows_digest(ROWS)


def test_a_later_pass_adds_columns_and_a_failed_one_fails_only_its_columns():
    old = ClipRow.from_json(OLDER)
    later = ClipRow(
        old.key,
        old.clip_id,
        outcomes={"ssim@6": MetricOutcome("ok", 0.9)},
        timing={"reference_s": 0.2},
        video={"source": "kept"},
    )
    merged = merge_rows(old, later, ["ssim@6"])
    assert merged.outcomes == {"psnr@1": MetricOutcome("ok", 30.25), "ssim@6": MetricOutcome("ok", 0.9)}
    assert merged.timing == {"reference_s": 0.2} and merged.video == {"source": "kept"} and merged.seed == 8
    broken = ClipRow(old.key, old.clip_id, timing={})
    broken.fail("load", "ClipError", "kept video unreadable")
    merged = merge_rows(old, broken, ["ssim@6"])
    assert merged.ok and merged.outcomes["psnr@1"] == old.outcomes["psnr@1"]
    assert merged.outcomes["ssim@6"].to_json() == {
        "status": "failed",
        "value": None,
        "reason": "load: kept video unreadable",
    }


class _MeanState:
    """A stand-in aggregate: the mean of the values added, and what was added."""

    aggregation = "mean over clips"

    def __init__(self):
        self.added = []

    def add(self, value, pooled, artifacts):
        self.added.append((value, pooled, artifacts))

    def compute(self):
        values = [v for v, _, _ in self.added]
        return {"value": sum(values) / len(values) if values else None}


def test_the_reduce_reads_typed_rows(monkeypatch):
    import benchmark.engine.reduce as reduce

    state = _MeanState()
    declared = SimpleNamespace(new_state=lambda: state, consumes_artifacts=False)  # a declared aggregation
    monkeypatch.setattr(reduce, "aggregation_of", lambda spec: declared)
    rows = {r["key"]: ClipRow.from_json(r) for r in (SCORED, OLDER, FAILED)}
    clips = [
        PlannedClip(r["clip_id"], r["speaker"], r["clip_fingerprint"], r["seed"], r["key"], i, None)
        for i, r in enumerate((SCORED, OLDER, FAILED))
    ] + [PlannedClip("s3_a", "s3", "c4", 1, "e" * 64, 3, None)]
    summary = reduce_column({"column": "psnr@1"}, clips, rows, load_artifacts=None)
    assert state.added == [(31.5, None, None), (30.25, None, None)]
    assert summary["value"] == (31.5 + 30.25) / 2 and summary["coverage"] == "2/4"
    assert [f["reason"] for f in summary["failures"]] == [
        "clip failed at generate: no s2_a.mp4",
        "not scored (never attempted: the run was interrupted, or its shard not merged)",
    ]
    summary = reduce_column({"column": "bilabial@2"}, clips[:1], rows, load_artifacts=None)
    assert summary["na_reason"] == "no phone timings"
    counts, failures = clip_summary(clips, rows)
    assert counts == {"total": 4, "scored": 2, "failed": 2}
    assert failures[0] == {"clip_id": "s2_a", "stage": "generate", "type": "ClipError", "message": "no s2_a.mp4"}
