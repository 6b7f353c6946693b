"""Clip rows in memory: typed, with their JSON form at the file boundary (clips.jsonl).

A clip row (`ClipRow`) is one line of clips.jsonl: one clip of a run, how its frames were made
and, per metric column (variant@hash), the metric's outcome on it (`MetricOutcome`, stored under
`scores`). The engine (worker, runner, reduce, merge) reads and writes these dataclasses; only
`to_json` / `from_json` know the file's field names. The JSON Schema in `schemas/` stays the
contract of the file.

`from_json(row).to_json() == row` for every row this harness or an older one wrote: a field
absent from the file stays absent and one this version does not know is kept as it was
(`unknown`), so resumed runs append rows as before and a record's rows digest
(`records.rows_digest`) is the same for the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

OK, FAILED, NOT_APPLICABLE = "ok", "failed", "n/a"


def _optional(obj, names: tuple[str, ...]) -> dict[str, Any]:
    """The named attributes that are set (not None), as JSON fields."""
    return {name: getattr(obj, name) for name in names if getattr(obj, name) is not None}


@dataclass
class MetricOutcome:
    """What one metric column gave on one clip: ok (with a value), n/a (the clip lacks what it
    needs) or failed, and why; its pooled counts and extras for the reduce, the per-clip array
    file it kept, the wall seconds it took and the torch threads it ran with."""

    status: str
    value: float | None = None
    reason: str | None = None
    pooled: dict | None = None
    extras: dict | None = None
    artifact: str | None = None  # run-folder path of the per-clip arrays (FID features)
    seconds: float | None = None  # a timing of the machine: kept out of the rows digest and the record
    threads: int | None = None
    unknown: dict = field(default_factory=dict)  # fields a newer harness wrote, kept as they were

    OPTIONAL: ClassVar[tuple[str, ...]] = ("reason", "pooled", "extras", "artifact", "seconds", "threads")

    @property
    def ok(self) -> bool:
        return self.status == OK

    @classmethod
    def not_scored(cls, status: str, reason: str) -> "MetricOutcome":
        """An n/a or failed outcome: no value, the reason in one line."""
        return cls(status, None, reason)

    def to_json(self) -> dict[str, Any]:
        return {**self.unknown, "status": self.status, "value": self.value, **_optional(self, self.OPTIONAL)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "MetricOutcome":
        known = {f.name for f in fields(cls)} - {"unknown"}
        return cls(
            **{k: v for k, v in data.items() if k in known}, unknown={k: v for k, v in data.items() if k not in known}
        )


@dataclass
class ClipRow:
    """One clip of a run: which clip, adapter and seed (its `key`), whether its frames were made
    (status ok, else `error` says at which stage it failed) and each scored column's outcome."""

    key: str  # row_key(adapter fingerprint, clip fingerprint, seed, clip input)
    clip_id: str
    status: str = OK  # ok | failed: whether the frames were loaded or generated and validated
    outcomes: dict[str, MetricOutcome] = field(default_factory=dict)  # column -> outcome; `scores` in the file
    speaker: str | None = None
    clip_fingerprint: str | None = None
    adapter_fingerprint: str | None = None
    seed: int | None = None
    timing: dict[str, float] | None = None  # generate_s, reference_s
    fps: float | None = None
    input: dict | None = None  # the adapter's per-clip input file (folder), part of the key
    video: dict | None = None  # {source: generated | kept, sha256, path of kept frames}
    n_frames: int | None = None
    resized: dict | None = None  # a model with its own resolution, resized to the clip's size
    conformed: dict | None = None  # an external model's file fitted to the clip (adapters/conform.py)
    error: dict | None = None  # {stage, type, message} of a failed clip
    unknown: dict = field(default_factory=dict)  # fields a newer harness wrote, kept as they were

    # always written by this harness (and required by the schema), but a field that is None is left
    # out, so a row read back is written back as it was
    OPTIONAL: ClassVar[tuple[str, ...]] = (
        "speaker",
        "clip_fingerprint",
        "adapter_fingerprint",
        "seed",
        "timing",
        "fps",
        "input",
        "video",
        "n_frames",
        "resized",
        "conformed",
        "error",
    )

    @property
    def ok(self) -> bool:
        return self.status == OK

    def fail(self, stage: str, kind: str, message: str) -> None:
        """The clip failed before scoring (load, generate, validate, reference, worker)."""
        self.status = FAILED
        self.error = {"stage": stage, "type": kind, "message": message}

    def failure_text(self) -> str:
        """ "stage: message" of a failed clip."""
        return f"{self.error['stage']}: {self.error['message']}"

    def to_json(self) -> dict[str, Any]:
        return {
            **self.unknown,
            "key": self.key,
            "clip_id": self.clip_id,
            "status": self.status,
            "scores": {column: outcome.to_json() for column, outcome in self.outcomes.items()},
            **_optional(self, self.OPTIONAL),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ClipRow":
        """A row as read from clips.jsonl (`records.RowLog` has checked its key, clip id, status and scores)."""
        known = {"key", "clip_id", "status", "scores", *cls.OPTIONAL}
        return cls(
            key=data["key"],
            clip_id=data["clip_id"],
            status=data["status"],
            outcomes={column: MetricOutcome.from_json(s) for column, s in data["scores"].items()},
            **{k: data[k] for k in cls.OPTIONAL if k in data},
            unknown={k: v for k, v in data.items() if k not in known},
        )
