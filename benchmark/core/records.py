"""Run records on disk: one clip row (JSONL) per clip as it finishes, one JSON record per finished run.

A run directory holds `run.json` (what was asked, written first), `clips.jsonl` (appended and
fsynced clip by clip, so a crash loses at most the clip in flight) and `record.json` (written
last, atomically). A run is finished when all three exist; it is complete (`run_completeness`)
when, besides, every clip of the whole protocol was attempted.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_json

SCHEMA_VERSION = 2
SCHEMA_DIR = Path(__file__).parent / "schemas"  # record-v2.schema.json, clip-row-v2.schema.json
RUN_FILE, ROWS_FILE, RECORD_FILE = "run.json", "clips.jsonl", "record.json"
RUN_FILES = (RUN_FILE, ROWS_FILE, RECORD_FILE)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write under a unique temporary name, then rename: readers never see half a file, writers never collide.

    A failed write (disk full, read-only) removes its temporary file and raises one BenchError.
    """
    text = json.dumps(obj, indent=1, sort_keys=True, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        remove_quietly(tmp)


def remove_quietly(path: Path) -> None:
    """Remove a temporary file if it is there; failing to (read-only) must not hide the first error."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


class RowLog:
    """clips.jsonl as JSON: an append-only log of clip rows that survives being killed mid-write, and
    lines that are not clip rows. The engine reads and writes it typed (`engine.store.RunStore`,
    `benchmark.core.rows.ClipRow`); the integrity check digests its JSON as read."""

    def __init__(self, path: Path, warn=None):
        self.path = path
        self.warn = warn or (lambda text: print(text, file=sys.stderr))
        self._warned: set[int] = set()  # line numbers already reported by this reader

    def append(self, row: dict) -> None:
        line = json.dumps(row, sort_keys=True, allow_nan=False) + "\n"
        try:
            with open(self.path, "a+b") as f:
                if f.tell() > 0:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":  # a torn row from a killed run: end it so this one stays readable
                        line = "\n" + line
                f.write(line.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise write_error(self.path, exc) from None

    def rows(self) -> Iterator[dict]:
        """Every clip row in file order; a torn, garbled or foreign line is skipped with a warning naming it."""
        for _, row in self._numbered_rows():
            yield row

    def _numbered_rows(self) -> Iterator[tuple[int, dict]]:
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                text = line.strip()
                if not text:
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    torn = not line.endswith("\n")  # the last line of a run killed while writing it
                    self._skip(
                        number,
                        "an incomplete row (the run stopped while writing it)" if torn else f"not JSON ({exc.msg})",
                    )
                    continue
                problem = _not_a_row(row)
                if problem:
                    self._skip(number, problem)
                    continue
                yield number, row

    def _skip(self, number: int, why: str) -> None:
        if number not in self._warned:
            self._warned.add(number)
            self.warn(f"warning: {self.path}:{number}: {why}; line skipped, the other rows are used")

    def latest_by_key(self, strict: bool = True) -> dict[str, dict]:
        """The latest row of each key; `strict` refuses two rows of one key that disagree (`row_conflict`).

        A later row legitimately repeats a clip: the runner re-appends it with a new metric column
        (earlier columns copied as they were), or retries a failed clip. Nothing is reduced from
        rows that contradict each other: which one is right cannot be told from the file.
        """
        latest: dict[str, dict] = {}
        line_of: dict[str, int] = {}
        for number, row in self._numbered_rows():
            key = row["key"]
            if strict and key in latest:
                conflict = row_conflict(latest[key], row)
                if conflict:
                    raise BenchError(
                        f"{self.path}: conflicting rows for clip {row['clip_id']} (key {key[:12]}): "
                        f"line {line_of[key]} gives {conflict[0]}, line {number} gives {conflict[1]}",
                        hint="delete the wrong line (a copied or hand-edited row), or delete the run "
                        "folder and run again; nothing is reduced from conflicting rows",
                    )
            latest[key], line_of[key] = row, number
        return latest


def row_conflict(old: dict, new: dict) -> tuple[str, str] | None:
    """What two rows of one key say differently, or None when `new` only adds to `old` (or retries a failure).

    A scored clip is never downgraded by the runner (a failed extra pass fails only the new
    columns), and a column it has is never re-scored: so a scored row followed by a failed one,
    or a column whose status, value or pooled counts change, is a contradiction.
    """
    if old["status"] != "ok":
        return None  # a failed clip is retried: the new row replaces it
    if new["status"] != "ok":
        error = new.get("error") or {}
        return "status ok", f"status failed ({error.get('stage', '?')}: {error.get('message', '?')})"
    for column in sorted(old["scores"].keys() & new["scores"].keys()):
        a, b = old["scores"][column], new["scores"][column]
        for field in ("status", "value", "pooled"):
            if a.get(field) != b.get(field):
                return f"{column} {field} {a.get(field)!r}", f"{column} {field} {b.get(field)!r}"
    return None


_ROW_FIELDS = (  # built once: every row of every read passes through these
    ("key", lambda v: isinstance(v, str)),
    ("clip_id", lambda v: isinstance(v, str)),
    ("status", lambda v: v in ("ok", "failed")),
    ("scores", lambda v: isinstance(v, dict)),
)


def _not_a_row(row: Any) -> str | None:
    """Why a parsed line cannot be a clip row (what resume and the reduce rely on), or None."""
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not a clip row"
    for field, ok in _ROW_FIELDS:
        if not ok(row.get(field)):
            return f"not a clip row (no valid {field!r})"
    for column, outcome in row["scores"].items():
        if not isinstance(outcome, dict) or outcome.get("status") not in ("ok", "failed", "n/a"):
            return f"not a clip row (scores {column!r} has no valid 'status')"
    return None


def write_error(path: Path, exc: OSError) -> BenchError:
    """One line for a file the run cannot write (disk full, read-only, permission denied), with the fix."""
    reason = exc.strerror or str(exc)
    hint = (
        "free some space, or choose another folder with --out; re-running the command resumes the run"
        if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else "choose a writable folder with --out; re-running the command resumes the run"
    )
    return BenchError(f"cannot write {path}: {reason}", hint=hint)


def run_label(record: dict) -> str:
    """What tables and pages call the run: its --name, or (older records) the adapter's name."""
    return record.get("label") or record["adapter"]["name"]


def completeness(protocol: dict, clips: dict, failures: list[dict]) -> dict:
    """Complete = every clip of the whole protocol attempted: not a --limit subset, a shard or a partial corpus."""
    reasons = []
    whole = protocol.get("n_protocol_clips", protocol["n_clips"])
    if protocol["n_clips"] < whole:
        reasons.append(f"subset: {protocol['n_clips']} of {whole} clips (--limit {protocol['subset']['limit']})")
    if protocol.get("shard"):
        reasons.append(f"shard {protocol['shard'][0]} of {protocol['shard'][1]} (fuse the shards with `bench merge`)")
    partial = protocol.get("partial")
    if partial:
        speakers = len(partial.get("missing_speakers") or [])
        reasons.append(
            f"partial corpus: {partial.get('n_present', '?')} of {partial.get('n_expected', '?')} clips prepared"
            + (f", {speakers} speaker(s) missing" if speakers else "")
        )
    unattempted = sum(1 for f in failures if f["stage"] == "missing")  # no row: e.g. a missing shard
    if unattempted:
        reasons.append(f"{unattempted} of {clips['total']} clips never attempted")
    return {"complete": not reasons, "reasons": reasons}


def run_completeness(record: dict) -> dict:
    """The record's `completeness`; for records written before it was recorded, derived the same way."""
    if "completeness" in record:
        return record["completeness"]
    return completeness(record["protocol"], record["clips"], record["failures"])


def is_run_dir(path: Path) -> bool:
    """A run folder (named directly), as opposed to a folder of runs."""
    return (path / RUN_FILE).is_file() or (path / RECORD_FILE).is_file()


def is_finished(run_dir: Path) -> bool:
    return all((run_dir / name).is_file() for name in RUN_FILES)


def read_json(path: Path) -> Any:
    """A run file's JSON, or one line naming the file when it cannot be read or is cut short (never a traceback)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BenchError(
            f"{path}: not valid JSON ({exc.msg}: line {exc.lineno} column {exc.colno}); the file was cut short or edited",
            hint="re-run the run's `bench run` command to rewrite it (finished clips are kept)",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(
            f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})",
            hint="check the file's permissions, or re-run the run's `bench run` command",
        ) from None


def load_record(run_dir: Path) -> "Record":
    """Read a finished run's record, checked against its rows (`Record.integrity`, `verify_record`).

    Incomplete runs, unreadable files and unknown schema versions are refused with one line.
    """
    run_dir = Path(run_dir)
    if not is_finished(run_dir):
        missing = [n for n in RUN_FILES if not (run_dir / n).is_file()]
        raise BenchError(
            f"{run_dir} is not a finished run (missing {', '.join(missing)})",
            hint="re-run its `bench run` command to finish it",
        )
    record = read_json(run_dir / RECORD_FILE)
    if not isinstance(record, dict):
        raise BenchError(
            f"{run_dir / RECORD_FILE}: a JSON {type(record).__name__}, not a run record",
            hint="re-run the run's `bench run` command to rewrite it",
        )
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BenchError(
            f"{run_dir / RECORD_FILE}: schema version {version!r}, this harness reads {SCHEMA_VERSION}",
            hint="re-run it with this version of the harness",
        )
    validate(record, "record", run_dir / RECORD_FILE)
    return Record(record, integrity=verify_record(run_dir, record))


# ---- integrity: a record and the rows it was reduced from ---------------------------------------

VERIFIED, NO_DIGEST, UNCHECKED = "verified", "no digest", "unchecked"
REDUCE_AGAIN = "re-run the run's `bench run` command (a merged run: `bench merge` into a new folder)"
MISMATCH = "MISMATCH"  # the prefix of a record that does not match its rows: "MISMATCH: <why>"
# what the seal covers: every number a reader shows and what it depends on (not timestamps, the
# command, the executor, the code or package versions: those differ between equal records)
SEALED_FIELDS = (
    "run_id",
    "protocol",
    "adapter",
    "metrics",
    "seed",
    "seeds",
    "settings",
    "clips",
    "failures",
    "results",
    "completeness",
)


class Record(dict):
    """A record read from disk. `integrity` (not part of its JSON: equality and json.dumps see the
    plain record) is VERIFIED, NO_DIGEST (written before records carried one) or "MISMATCH: why"."""

    def __init__(self, record: dict, integrity: str):
        super().__init__(record)
        self.integrity = integrity


def integrity_of(record: dict) -> str:
    """What `load_record` found (UNCHECKED for a record built in memory, e.g. by the runner)."""
    return record.integrity if isinstance(record, Record) else UNCHECKED


def integrity_problem(record: dict) -> str:
    """Why a record cannot be trusted ("" if it can): what every reader flags and never ranks."""
    status = integrity_of(record)
    return status if status.startswith(MISMATCH) else ""


def _digest_view(row: dict) -> dict:
    """A row without its timings (they describe the machine, and differ between equal runs)."""
    view = {k: v for k, v in row.items() if k != "timing"}
    view["scores"] = {c: {k: v for k, v in s.items() if k != "seconds"} for c, s in row["scores"].items()}
    return view


def rows_digest(rows: list[dict]) -> str:
    """sha256 of the canonical JSON of the rows a record is reduced from, in protocol order."""
    return sha256_json([_digest_view(r) for r in rows])


def record_seal(record: dict, rows_sha256: str) -> str:
    """sha256 of what the record reports (SEALED_FIELDS) and of the rows digest: an edited value breaks it."""
    return sha256_json({"rows_sha256": rows_sha256, **{k: record[k] for k in SEALED_FIELDS if k in record}})


def integrity_block(record: dict, rows: list[dict]) -> dict:
    """The record's `integrity` field, computed last from the rows reduced (in protocol order)."""
    digest = rows_digest(rows)
    return {"rows_sha256": digest, "n_rows": len(rows), "record_sha256": record_seal(record, digest)}


def verify_record(run_dir: Path, record: dict) -> str:
    """VERIFIED, NO_DIGEST, or "MISMATCH: why": the record against its own seal and against clips.jsonl."""
    block = record.get("integrity")
    if not block:
        return NO_DIGEST
    if record_seal(record, block["rows_sha256"]) != block["record_sha256"]:
        return (
            f"{MISMATCH}: record.json was edited after it was written (its values no longer match its seal); "
            f"{REDUCE_AGAIN} to reduce its rows again"
        )
    try:
        keys = plan_clip_keys(run_dir)
        latest = RowLog(Path(run_dir) / ROWS_FILE, warn=lambda text: None).latest_by_key(strict=True)
    except BenchError as exc:
        return f"{MISMATCH}: {exc.message}"
    rows = [latest[key] for key in keys if key in latest]
    if rows_digest(rows) != block["rows_sha256"]:
        return (
            f"{MISMATCH}: clips.jsonl changed after record.json was written ({len(rows)} rows now, "
            f"{block['n_rows']} reduced); {REDUCE_AGAIN} to reduce them again"
        )
    return VERIFIED


def plan_clip_keys(run_dir: Path) -> list[str]:
    """The row keys of the run's clips in protocol order, from its plan in run.json."""
    path = Path(run_dir) / RUN_FILE
    saved = read_json(path)
    plan = saved.get("plan") if isinstance(saved, dict) else None
    if not isinstance(plan, dict) or not isinstance(plan.get("clips"), list):
        raise BenchError(
            f"{path}: no run plan with a clip list", hint="re-run the run's `bench run` command to rewrite it"
        )
    return [c["key"] for c in plan["clips"]]


def load_rows(run_dir: Path, record: dict | None = None) -> list[dict]:
    """The run's clip rows for the clips of its record, in protocol order, as the record sees them.

    Each clip row is validated against the clip-row schema, then projected onto the record's metrics:
    `metrics` / `outcomes` / `pooled` / `extras` / `artifacts` keyed by variant (the stored rows
    key them by column, variant@hash). Rows of other clips (an earlier selection) are left out.
    A record `load_record` VERIFIED against these very rows skips the schema (1.4 s of 1.7 s for 10,000
    rows): they are the rows the harness wrote and reduced, byte for byte but their timings.
    """
    run_dir = Path(run_dir)
    record = record if record is not None else load_record(run_dir)
    path = run_dir / ROWS_FILE
    latest = RowLog(path).latest_by_key(strict=False)  # conflicting rows: load_record flagged the record
    columns = {m["variant"]: m["column"] for m in record["metrics"]}
    verified = integrity_of(record) == VERIFIED
    out = []
    for key in plan_clip_keys(run_dir):
        row = latest.get(key)
        if row is None:
            continue
        if not verified:
            validate(row, "clip-row", path, where=f"row of {row.get('clip_id', '?')}")
        out.append(project_row(row, columns))
    return out


def project_row(row: dict, columns: dict[str, str]) -> dict:
    """A stored clip row (JSON) with its per-column outcomes laid out by variant name."""
    out = {k: v for k, v in row.items() if k != "scores"}
    out.update(metrics={}, outcomes={}, pooled={}, extras={}, artifacts={}, seconds={})
    for variant, column in columns.items():
        score = row.get("scores", {}).get(column)
        if score is None:
            continue
        out["metrics"][variant] = score.get("value")
        out["outcomes"][variant] = {k: score[k] for k in ("status", "reason") if k in score}
        for field in ("pooled", "extras"):
            if score.get(field):
                out[field][variant] = score[field]
        if score.get("artifact"):
            out["artifacts"][variant] = score["artifact"]
        if "seconds" in score:
            out["seconds"][variant] = score["seconds"]
    return out


def metric_seconds(rows: list[dict]) -> dict[str, dict]:
    """Per metric (variant): clips timed, total and mean seconds per clip, from projected clip rows.

    Timings describe the machine, not the frames: they live in the rows only and never enter the
    record, which stays a pure function of the scores (identical across executors and shards). A
    feature two metrics share (landmarks, lse-c and lse-d's one SyncNet pass) is charged to the
    first metric of the run that asks for it.
    """
    totals: dict[str, list[float]] = {}
    for row in rows:
        for variant, seconds in row.get("seconds", {}).items():
            totals.setdefault(variant, []).append(float(seconds))
    return {
        v: {"clips": len(t), "total_s": round(sum(t), 4), "mean_s": round(sum(t) / len(t), 4)}
        for v, t in totals.items()
    }


@lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema

    schema = json.loads((SCHEMA_DIR / f"{kind}-v{SCHEMA_VERSION}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate(obj: dict, kind: str, path: Path, where: str = "") -> None:
    """Check `obj` against the versioned JSON Schema in benchmark/core/schemas/; name the first violation."""
    error = next(iter(sorted(_validator(kind).iter_errors(obj), key=lambda e: list(e.path))), None)
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise BenchError(
            f"{path}{' ' + where if where else ''}: does not match the {kind} schema v{SCHEMA_VERSION} "
            f"at {at}: {error.message}",
            hint="was it edited by hand or written by another tool?",
        )


def load_records(paths: list[Path]) -> tuple[list[tuple[Path, dict]], list[tuple[Path, str]]]:
    """Every complete, valid run found under `paths`, and the run folders skipped with why."""
    records, skipped = [], []
    for run_dir in find_run_dirs(paths):
        try:
            records.append((run_dir, load_record(run_dir)))
        except BenchError as exc:
            skipped.append((run_dir, exc.message))
    return records, skipped


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Run directories named directly or found below the given folders."""
    found: list[Path] = []
    for path in paths:
        path = Path(path)
        if is_run_dir(path):
            found.append(path)
        elif path.is_dir():
            found += sorted(p.parent for p in path.rglob(RUN_FILE))
        else:
            raise BenchError(f"{path}: no such run directory")
    return sorted(dict.fromkeys(found))
