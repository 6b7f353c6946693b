"""The run folder under bad conditions: foreign lines in clips.jsonl, a full disk, a folder that cannot be written.

Each ends in one line saying what to fix (or a warning naming the line), never a traceback, and
never leaves a temporary file behind; the rows already written stay usable.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path

import pytest

from benchmark.engine.store import RunStore, write_bytes_atomic
from benchmark.core.errors import BenchError
from benchmark.core.records import RowLog, write_json_atomic


def _row(key: str, status: str = "ok") -> dict:
    row = {
        "key": key,
        "clip_id": f"clip-{key}",
        "status": status,
        "scores": {"psnr@x": {"status": "ok", "value": 30.0}},
    }
    if status == "failed":
        row["error"] = {"stage": "generate", "type": "ClipError", "message": "boom"}
    return row


FOREIGN = [
    '{"hello": "world"}',
    "[1, 2, 3]",
    '"just a string"',
    "%%% not json at all",
    "\x00\x00\x00",
    '{"key": 7, "clip_id": "x", "status": "ok", "scores": {}}',
    '{"key": "k", "clip_id": "x", "status": "great", "scores": {}}',
    '{"key": "k", "clip_id": "x", "status": "ok", "scores": []}',
]


@pytest.mark.parametrize("foreign", FOREIGN)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_foreign_lines_are_skipped_with_a_warning_and_good_rows_kept(tmp_path, foreign, where):
    path = tmp_path / "clips.jsonl"
    good = [_row("a"), _row("b", "failed"), _row("c")]
    lines = [json.dumps(r) for r in good]
    lines.insert(where, foreign)
    path.write_text("\n".join(lines) + "\n")
    warnings: list[str] = []
    log = RowLog(path, warn=warnings.append)
    assert list(log.rows()) == good
    assert log.latest_by_key() == {r["key"]: r for r in good}  # read twice: warned once
    assert len(warnings) == 1 and warnings[0].startswith(f"warning: {path}:{where + 1}: ")
    assert warnings[0].endswith("line skipped, the other rows are used")


def test_a_torn_last_line_is_named_and_the_next_append_stays_readable(tmp_path):
    path = tmp_path / "clips.jsonl"
    path.write_text(json.dumps(_row("a")) + "\n" + json.dumps(_row("b"))[:25])
    warnings: list[str] = []
    log = RowLog(path, warn=warnings.append)
    assert [r["key"] for r in log.rows()] == ["a"]
    assert warnings == [
        f"warning: {path}:2: an incomplete row (the run stopped while writing it); "
        "line skipped, the other rows are used"
    ]
    log.append(_row("c"))
    assert [r["key"] for r in RowLog(path, warn=warnings.append).rows()] == ["a", "c"]


def _enospc_after(n_bytes: int):
    """A write that puts `n_bytes` on disk, then finds the disk full."""

    def write(self, data, *args, **kwargs):
        with open(self, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data[:n_bytes])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    return write


@pytest.mark.parametrize("n_bytes", [0, 10])
@pytest.mark.parametrize("kind", ["json", "bytes"])
def test_a_full_disk_is_one_error_and_leaves_no_temporary_file(tmp_path, monkeypatch, n_bytes, kind):
    target = tmp_path / "run" / ("record.json" if kind == "json" else "artifacts/x.npz")
    target.parent.mkdir(parents=True)
    target.write_text("the previous version")
    monkeypatch.setattr(Path, "write_text" if kind == "json" else "write_bytes", _enospc_after(n_bytes))
    with pytest.raises(BenchError) as err:
        write_json_atomic(target, {"a": 1}) if kind == "json" else write_bytes_atomic(target, b"0123456789" * 9)
    assert err.value.message == f"cannot write {target}: No space left on device"
    assert err.value.hint.startswith("free some space, or choose another folder with --out")
    monkeypatch.undo()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no .tmp left
    assert target.read_text() == "the previous version"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_row_that_cannot_be_written_is_one_error(tmp_path, monkeypatch, code):
    log = RowLog(tmp_path / "clips.jsonl")
    log.append(_row("a"))

    def fail(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(BenchError) as err:
        log.append(_row("b"))
    assert err.value.message == f"cannot write {tmp_path / 'clips.jsonl'}: {os.strerror(code)}"
    monkeypatch.undo()
    assert RowLog(log.path).latest_by_key()["a"] == _row("a")


@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS, errno.ENOTDIR])
def test_a_run_folder_that_cannot_be_made_is_one_error(tmp_path, monkeypatch, code):
    def refuse(self, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)  # as root, chmod cannot make a folder unwritable
    with pytest.raises(BenchError) as err:
        RunStore(tmp_path / "runs" / "x").create()
    assert str(err.value) == (
        f"cannot write the run folder {tmp_path / 'runs' / 'x'}: {os.strerror(code)}\n"
        "  fix: choose a writable folder with --out"
    )


# ---- through `bench run` -------------------------------------------------------------------------


def _bench(monkeypatch, capsys, *args) -> tuple[int, str]:
    from benchmark import cli

    monkeypatch.setattr(sys, "argv", ["bench", *args])
    with pytest.raises(SystemExit) as done:
        cli.main()
    return done.value.code, capsys.readouterr().err


def _temporaries(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if ".tmp" in p.name]


@pytest.mark.parametrize("full_at", ["clips.jsonl", "record.json"])
def test_bench_run_on_a_full_disk_says_so_in_one_line_and_resumes(
    mini_data_root, tmp_path, monkeypatch, capsys, full_at
):
    args = [
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--limit",
        "3",
        "--no-progress",
        "--data-dir",
        str(mini_data_root),
        "--out",
        str(tmp_path / "runs"),
    ]
    real_fsync, real_write_text = os.fsync, Path.write_text
    rows_written = []

    def fsync(fd):  # the second row finds the disk full
        rows_written.append(fd)
        if len(rows_written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    def write_text(self, data, *a, **kw):
        if self.name.startswith(".record.json"):
            return _enospc_after(5)(self, data)
        return real_write_text(self, data, *a, **kw)

    if full_at == "clips.jsonl":
        monkeypatch.setattr(os, "fsync", fsync)
    else:
        monkeypatch.setattr(Path, "write_text", write_text)
    code, err = _bench(monkeypatch, capsys, *args)
    assert code == 1 and "Traceback" not in err, err
    run_dir = next((tmp_path / "runs").rglob("run.json")).parent
    assert f"error: cannot write {run_dir / full_at}: No space left on device" in err
    assert "fix: free some space, or choose another folder with --out; re-running the command resumes the run" in err
    assert not _temporaries(tmp_path) and not (run_dir / "record.json").exists()
    kept = RowLog(run_dir / "clips.jsonl").latest_by_key()
    assert len(kept) >= (1 if full_at == "clips.jsonl" else 3)

    monkeypatch.undo()
    code, err = _bench(monkeypatch, capsys, *args)
    assert code == 0, err
    record = json.loads((run_dir / "record.json").read_text())
    assert record["clips"] == {"total": 3, "scored": 3, "failed": 0}


@pytest.mark.parametrize("out", ["a-file", "a-file/below"])
def test_bench_run_into_a_file_is_one_line(mini_data_root, tmp_path, monkeypatch, capsys, out):
    (tmp_path / "a-file").write_text("")
    code, err = _bench(
        monkeypatch,
        capsys,
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--limit",
        "1",
        "--data-dir",
        str(mini_data_root),
        "--out",
        str(tmp_path / out),
    )
    assert code == 1 and "Traceback" not in err
    assert err.startswith(f"error: cannot write the run folder {tmp_path / out}/mini/still-seed0-")
    assert err.rstrip().endswith("Not a directory\n  fix: choose a writable folder with --out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_foreign_lines_in_a_run_are_named_and_its_rows_still_resume_and_report(
    mini_data_root, tmp_path, monkeypatch, capsys
):
    from benchmark.core.records import load_rows

    args = [
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--limit",
        "3",
        "--no-progress",
        "--data-dir",
        str(mini_data_root),
        "--out",
        str(tmp_path / "runs"),
    ]
    assert _bench(monkeypatch, capsys, *args)[0] == 0
    run_dir = next((tmp_path / "runs").rglob("record.json")).parent
    rows_file = run_dir / "clips.jsonl"
    before = load_rows(run_dir)
    lines = rows_file.read_text().splitlines()
    rows_file.write_text(
        "\n".join([lines[0], '{"note": "added by another tool"}', lines[1], "<<garbage>>", lines[2]]) + "\n"
    )

    code, err = _bench(monkeypatch, capsys, *args)
    assert code == 0 and "Traceback" not in err
    assert f"warning: {rows_file}:2: not a clip row (no valid 'key'); line skipped" in err
    assert f"warning: {rows_file}:4: not JSON (" in err
    assert load_rows(run_dir) == before  # nothing re-scored, nothing lost
    assert len(rows_file.read_text().splitlines()) == 5
