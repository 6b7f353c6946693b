"""Run records on disk: one JSONL row per clip as it finishes, one JSON record per finished run.

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

from benchmark.errors import BenchError

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
    """Append-only per-clip log that survives being killed mid-write, and lines that are not rows."""

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
                    self._skip(number, "an incomplete row (the run stopped while writing it)" if torn
                               else f"not JSON ({exc.msg})")
                    continue
                problem = _not_a_row(row)
                if problem:
                    self._skip(number, problem)
                    continue
                yield row

    def _skip(self, number: int, why: str) -> None:
        if number not in self._warned:
            self._warned.add(number)
            self.warn(f"warning: {self.path}:{number}: {why}; line skipped, the other rows are used")

    def latest_by_key(self) -> dict[str, dict]:
        latest: dict[str, dict] = {}
        for row in self.rows():
            latest[row["key"]] = row
        return latest


def _not_a_row(row: Any) -> str | None:
    """Why a parsed line cannot be a clip row (what resume and the reduce rely on), or None."""
    if not isinstance(row, dict):
        return f"a JSON {type(row).__name__}, not a clip row"
    for field, ok in (("key", lambda v: isinstance(v, str)), ("clip_id", lambda v: isinstance(v, str)),
                      ("status", lambda v: v in ("ok", "failed")), ("scores", lambda v: isinstance(v, dict))):
        if not ok(row.get(field)):
            return f"not a clip row (no valid {field!r})"
    return None


def write_error(path: Path, exc: OSError) -> BenchError:
    """One line for a file the run cannot write (disk full, read-only, permission denied), with the fix."""
    reason = exc.strerror or str(exc)
    hint = ("free some space, or choose another folder with --out; re-running the command resumes the run"
            if exc.errno in (errno.ENOSPC, errno.EDQUOT) else
            "choose a writable folder with --out; re-running the command resumes the run")
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
        reasons.append(f"partial corpus: {partial.get('n_present', '?')} of {partial.get('n_expected', '?')} clips prepared"
                       + (f", {speakers} speaker(s) missing" if speakers else ""))
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


def load_record(run_dir: Path) -> dict:
    """Read a finished run's record; refuse incomplete runs and unknown schema versions clearly."""
    run_dir = Path(run_dir)
    if not is_finished(run_dir):
        missing = [n for n in RUN_FILES if not (run_dir / n).is_file()]
        raise BenchError(f"{run_dir} is not a finished run (missing {', '.join(missing)})",
                         hint="re-run its `bench run` command to finish it")
    record = json.loads((run_dir / RECORD_FILE).read_text())
    version = record.get("schema_version")
    if version != SCHEMA_VERSION:
        raise BenchError(f"{run_dir / RECORD_FILE}: schema version {version!r}, this harness reads {SCHEMA_VERSION}",
                         hint="re-run it with this version of the harness")
    validate(record, "record", run_dir / RECORD_FILE)
    return record


def load_rows(run_dir: Path, record: dict | None = None) -> list[dict]:
    """The run's rows for the clips of its record, in protocol order, as the record sees them.

    Each row is validated against the clip-row schema, then projected onto the record's metrics:
    `metrics` / `outcomes` / `pooled` / `extras` / `artifacts` keyed by variant (the stored rows
    key them by column, variant@hash). Rows of other clips (an earlier selection) are left out.
    """
    run_dir = Path(run_dir)
    record = record if record is not None else load_record(run_dir)
    path = run_dir / ROWS_FILE
    latest = RowLog(path).latest_by_key()
    columns = {m["variant"]: m["column"] for m in record["metrics"]}
    out = []
    plan = json.loads((run_dir / RUN_FILE).read_text()).get("plan") or {}
    for key in (c["key"] for c in plan.get("clips", [])):
        row = latest.get(key)
        if row is None:
            continue
        validate(row, "clip-row", path, where=f"row of {row.get('clip_id', '?')}")
        out.append(project_row(row, columns))
    return out


def project_row(row: dict, columns: dict[str, str]) -> dict:
    """A stored row with its per-column scores laid out by variant name."""
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
    """Per metric (variant): clips timed, total and mean seconds per clip, from projected rows.

    Timings describe the machine, not the frames: they live in the rows only and never enter the
    record, which stays a pure function of the scores (identical across executors and shards). A
    feature two metrics share (landmarks, lse-c and lse-d's one SyncNet pass) is charged to the
    first metric of the run that asks for it.
    """
    totals: dict[str, list[float]] = {}
    for row in rows:
        for variant, seconds in row.get("seconds", {}).items():
            totals.setdefault(variant, []).append(float(seconds))
    return {v: {"clips": len(t), "total_s": round(sum(t), 4), "mean_s": round(sum(t) / len(t), 4)}
            for v, t in totals.items()}


@lru_cache(maxsize=None)
def _validator(kind: str):
    import jsonschema

    schema = json.loads((SCHEMA_DIR / f"{kind}-v{SCHEMA_VERSION}.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


def validate(obj: dict, kind: str, path: Path, where: str = "") -> None:
    """Check `obj` against the versioned JSON Schema in benchmark/schemas/; name the first violation."""
    error = next(iter(sorted(_validator(kind).iter_errors(obj), key=lambda e: list(e.path))), None)
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise BenchError(f"{path}{' ' + where if where else ''}: does not match the {kind} schema v{SCHEMA_VERSION} "
                         f"at {at}: {error.message}", hint="was it edited by hand or written by another tool?")


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
