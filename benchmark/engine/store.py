"""A run directory on disk: the plan, the rows, per-clip arrays, kept videos, the record, a lock.

Only the driver writes here (workers return results), so resume and merge stay simple. Every
file is written under a unique temporary name and renamed into place; a lock file stops two
processes from writing the same run at once.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.core.records import (
    RECORD_FILE,
    ROWS_FILE,
    RUN_FILE,
    RowLog,
    read_json,
    remove_quietly,
    write_error,
    write_json_atomic,
)
from benchmark.core.rows import ClipRow
from benchmark.core.types import check_clip_id

LOCK_FILE = ".lock"
VIDEOS_DIR = "videos"
ARTIFACTS_DIR = "artifacts"


def unique_tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Unique temporary name, then rename; a failed write (disk full) leaves no temporary file and raises one BenchError."""
    tmp = unique_tmp(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        raise write_error(path, exc) from None
    finally:
        remove_quietly(tmp)


class RunLock:
    """An exclusive flock on <run>/.lock, released when the process ends (even by kill -9)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self, wait: bool = False, log=print) -> None:
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_error(self.path, exc) from None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self.holder()
            if not wait:
                os.close(self._fd)
                self._fd = None
                raise BenchError(
                    f"{self.path.parent} is being written by another bench process ({holder})",
                    hint="wait for it to finish, or pass --wait to queue behind it",
                ) from None
            log(f"waiting for {self.path.parent} (held by {holder})")
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:  # who holds the lock, for the next process's message; the flock itself is what counts
            os.ftruncate(self._fd, 0)
            os.write(
                self._fd,
                json.dumps(
                    {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
                ).encode(),
            )
        except OSError:
            pass

    def holder(self) -> str:
        try:
            info = json.loads(self.path.read_text() or "{}")
            return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
        except (OSError, ValueError):
            return "unknown process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class RunStore:
    def __init__(self, run_dir: Path):
        self.dir = Path(run_dir)
        self.row_log = RowLog(self.dir / ROWS_FILE)  # clips.jsonl as JSON; the engine reads and writes ClipRows

    def latest_rows(self, strict: bool = True) -> dict[str, ClipRow]:
        """The latest clip row of each key (`RowLog.latest_by_key`), typed."""
        return {key: ClipRow.from_json(row) for key, row in self.row_log.latest_by_key(strict).items()}

    def append_row(self, row: ClipRow) -> None:
        self.row_log.append(row.to_json())

    def create(self) -> None:
        """Make the folder, or say in one line why it cannot be written."""
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            probe = unique_tmp(self.dir / "write-probe")
            try:
                probe.write_bytes(b"")
            finally:
                remove_quietly(probe)
        except OSError as exc:
            raise BenchError(
                f"cannot write the run folder {self.dir}: {exc.strerror or exc}",
                hint="choose a writable folder with --out",
            ) from None

    def write_plan(self, plan_dict: dict, extra: dict[str, Any]) -> None:
        write_json_atomic(self.dir / RUN_FILE, {**extra, "plan": plan_dict})

    def read_plan(self) -> dict | None:
        path = self.dir / RUN_FILE
        if not path.is_file():
            return None
        saved = read_json(path)
        return saved.get("plan") if isinstance(saved, dict) else None

    def write_record(self, record: dict) -> None:
        write_json_atomic(self.dir / RECORD_FILE, record)

    def clear_record(self) -> None:
        """A run being extended is not complete until its new record is written."""
        try:
            (self.dir / RECORD_FILE).unlink(missing_ok=True)
        except OSError as exc:
            raise write_error(self.dir / RECORD_FILE, exc) from None

    # ---- per-clip files ---------------------------------------------------------------------

    def artifact_path(self, column: str, clip_id: str) -> Path:
        return Path(ARTIFACTS_DIR) / column / f"{check_clip_id(clip_id)}.npz"

    def save_artifacts(self, column: str, clip_id: str, arrays: dict[str, np.ndarray]) -> str:
        relative = self.artifact_path(column, clip_id)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        write_bytes_atomic(self.dir / relative, buffer.getvalue())
        return str(relative)

    def load_artifacts(self, relative: str) -> dict[str, np.ndarray]:
        with np.load(self.dir / relative) as data:
            return {k: data[k] for k in data.files}

    def video_path(self, clip_id: str) -> Path:
        return Path(VIDEOS_DIR) / f"{check_clip_id(clip_id)}.mkv"

    def save_video(self, clip_id: str, data: bytes) -> str:
        relative = self.video_path(clip_id)
        write_bytes_atomic(self.dir / relative, data)
        return str(relative)

    def copy_row_files(self, src: Path, row: ClipRow) -> None:
        """A row's per-clip arrays and kept video, copied from run folder `src` (same relative paths)."""
        relatives = [outcome.artifact for outcome in row.outcomes.values() if outcome.artifact]
        if (row.video or {}).get("path"):
            relatives.append(row.video["path"])
        for relative in relatives:
            target = self.dir / relative
            if target.resolve() == (Path(src) / relative).resolve():
                continue
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(src) / relative, target)
            except OSError as exc:
                raise write_error(target, exc) from None

    def log_error(self, text: str) -> None:
        """Append a traceback to errors.log; a failing write (disk full) must not hide the clip's own failure."""
        try:
            with open(self.dir / "errors.log", "a", encoding="utf-8") as f:
                f.write(text)
        except OSError:
            pass
