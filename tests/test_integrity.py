"""Trust between a run's files: records against their rows, shards against the whole selection,
and unreadable files as one line (issue 24, items 4, 5 and 7)."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

from benchmark.core.errors import BenchError
from benchmark.engine.merge import merge_runs
from benchmark.core.records import RowLog, load_record, load_records
from benchmark.engine.runner import RunConfig, Runner
from tests.conftest import run_bench

VERIFIED, NO_DIGEST = "verified", "no digest"  # what readers say of a record that matches its rows / has no digest


def _run(mini_data_root, out, **kw):
    config = RunConfig(
        model="still",
        dataset="mini",
        metrics=("psnr",),
        data_dir=mini_data_root,
        runs_dir=out,
        threads=1,
        **{"limit": 4, **kw},
    )
    return Runner(config, progress=False, log=lambda s: None).run()


@pytest.fixture(scope="module")
def good_run(mini_data_root, tmp_path_factory) -> Path:
    outcome = _run(mini_data_root, tmp_path_factory.mktemp("good"))
    assert outcome.exit_code == 0
    return outcome.run_dir


@pytest.fixture(scope="module")
def shards(mini_data_root, tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("shards")
    runs = [_run(mini_data_root, out, shard=(k, 2)) for k in range(2)]
    assert all(r.exit_code == 0 for r in runs)
    return [r.run_dir for r in runs]


def _copy(run_dir: Path, tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(run_dir, copy)
    return copy


def _plan_clips(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / "run.json").read_text())["plan"]["clips"]


# ---- item 4: bench merge with a shard missing, and onto an existing run ------------------------


def test_a_missing_shards_clips_count_as_never_attempted(shards, tmp_path):
    given, absent = shards
    n_given, n_absent = len(_plan_clips(given)), len(_plan_clips(absent))
    assert n_given and n_absent  # 4 clips split 2 ways: both shards hold some
    merged = merge_runs([given], tmp_path / "merged", log=lambda s: None)
    record = load_record(merged.run_dir)
    assert record["clips"] == {"total": n_given + n_absent, "scored": n_given, "failed": n_absent}
    assert record["results"]["psnr"]["coverage"] == f"{n_given}/{n_given + n_absent}"
    # the absent shard's clips are named, as its own plan names them
    missing = [f["clip_id"] for f in record["failures"] if f["stage"] == "missing"]
    assert missing == [c["id"] for c in _plan_clips(absent)]
    assert not record["completeness"]["complete"]
    assert f"{n_absent} of {n_given + n_absent} clips never attempted" in record["completeness"]["reasons"]
    assert merged.exit_code == 3
    assert record.integrity == VERIFIED


def test_bench_merge_with_a_shard_missing_exits_3(shards, mini_data_root, tmp_path):
    proc = run_bench(
        "merge",
        str(shards[1]),
        "-o",
        str(tmp_path / "merged"),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(3,),
        subprocess=True,
    )  # exit status 3 as a shell sees it
    assert "shard(s) 0/2 not given" in proc.stderr and "never attempted" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_merge_refuses_a_non_empty_output_folder(shards, tmp_path):
    out = tmp_path / "merged"
    merge_runs(shards, out, log=lambda s: None)
    rows_before = (out / "clips.jsonl").read_text()
    with pytest.raises(BenchError, match="not empty"):
        merge_runs(shards[:1], out, log=lambda s: None)
    assert (out / "clips.jsonl").read_text() == rows_before  # the run merged first is untouched
    shard_rows = (shards[0] / "clips.jsonl").read_text()
    with pytest.raises(BenchError, match="not empty"):  # nor onto a shard itself
        merge_runs(shards, shards[0], log=lambda s: None)
    assert (shards[0] / "clips.jsonl").read_text() == shard_rows
    (tmp_path / "empty").mkdir()
    assert merge_runs(shards, tmp_path / "empty", log=lambda s: None).exit_code == 0  # an empty folder is fine


# ---- item 5: rows and records must agree ------------------------------------------------------


def _row(key: str, status: str = "ok", **scores) -> dict:
    row = {
        "key": key,
        "clip_id": f"clip-{key}",
        "status": status,
        "scores": {c: {"status": "ok", "value": v} for c, v in scores.items()},
    }
    if status != "ok":
        row["error"] = {"stage": "generate", "message": "boom"}
    return row


def _write_rows(path: Path, rows: list[dict]) -> RowLog:
    log = RowLog(path)
    for row in rows:
        log.append(row)
    return log


def test_rows_that_add_a_column_or_retry_a_failure_are_not_conflicts(tmp_path):
    log = _write_rows(
        tmp_path / "clips.jsonl",
        [
            _row("a", psnr=21.5),
            _row("a", psnr=21.5, ssim=0.75),  # a later invocation added ssim
            _row("b", status="failed"),
            _row("b", psnr=19.0),  # a failed clip retried
        ],
    )
    latest = log.latest_by_key()
    assert latest["a"]["scores"]["ssim"]["value"] == 0.75 and latest["b"]["status"] == "ok"


def test_conflicting_rows_for_one_key_are_refused_with_both_values(tmp_path):
    log = _write_rows(tmp_path / "clips.jsonl", [_row("a", psnr=21.5), _row("b", psnr=19.0), _row("a", psnr=35.0)])
    with pytest.raises(
        BenchError,
        match=r"conflicting rows for clip clip-a .*line 1 gives psnr value 21\.5, "
        r"line 3 gives psnr value 35\.0",
    ):
        log.latest_by_key()
    downgraded = _write_rows(tmp_path / "other.jsonl", [_row("a", psnr=21.5), _row("a", status="failed")])
    with pytest.raises(BenchError, match="line 1 gives status ok, line 2 gives status failed"):
        downgraded.latest_by_key()
    assert downgraded.latest_by_key(strict=False)["a"]["status"] == "failed"  # readers of a flagged record


def _append_conflicting_row(run_dir: Path) -> None:
    lines = (run_dir / "clips.jsonl").read_text().splitlines()
    row = json.loads(lines[0])
    column = next(iter(row["scores"]))
    row["scores"][column]["value"] += 10.0
    (run_dir / "clips.jsonl").write_text("\n".join(lines + [json.dumps(row)]) + "\n")


def test_a_run_with_conflicting_rows_is_not_reduced_again(good_run, mini_data_root, tmp_path):
    runs = tmp_path / "runs"
    copy = runs / good_run.relative_to(good_run.parent.parent)
    shutil.copytree(good_run, copy)
    _append_conflicting_row(copy)
    record_before = (copy / "record.json").read_text()
    with pytest.raises(BenchError, match="conflicting rows"):
        _run(mini_data_root, runs)  # the same run, resumed: it would have rewritten the record from the new row
    assert (copy / "record.json").read_text() == record_before


def test_a_record_that_does_not_match_its_rows_is_flagged_by_every_reader(good_run, tmp_path):
    from benchmark.reports.compare import compare_runs, render_comparison
    from benchmark.reports.frames import load_runs
    from benchmark.reports.leaderboard import leaderboard_tables
    from benchmark.reports.selection import select_runs

    runs = tmp_path / "runs"
    clean = _copy(good_run, runs, "clean")
    edited = _copy(good_run, runs, "edited")  # a value edited in record.json
    record = json.loads((edited / "record.json").read_text())
    record["results"]["psnr"]["value"] = 99.0
    (edited / "record.json").write_text(json.dumps(record))
    conflicting = _copy(good_run, runs, "conflicting")  # a duplicated row with another value
    _append_conflicting_row(conflicting)
    dropped = _copy(good_run, runs, "dropped")  # rows changed after the record was written
    lines = (dropped / "clips.jsonl").read_text().splitlines()
    (dropped / "clips.jsonl").write_text("\n".join(lines[1:]) + "\n")
    older = _copy(good_run, runs, "older")  # written before records carried a digest
    record = json.loads((older / "record.json").read_text())
    del record["integrity"]
    (older / "record.json").write_text(json.dumps(record))

    found = {path.name: rec for path, rec in load_records([runs])[0]}
    assert found["clean"].integrity == VERIFIED and found["older"].integrity == NO_DIGEST
    assert "record.json was edited" in found["edited"].integrity
    assert "conflicting rows" in found["conflicting"].integrity
    assert "clips.jsonl changed" in found["dropped"].integrity
    flagged = {"edited", "conflicting", "dropped"}
    assert all(found[name].integrity.startswith("MISMATCH") for name in flagged)

    # load_runs / export-results: an integrity column, and a warning per flagged run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = load_runs([runs])
    warned = {name for w in caught for name in flagged if f"{runs / name}: MISMATCH" in str(w.message)}
    assert warned == flagged and len(caught) == len(flagged)
    by_dir = dict(zip(frame["run_dir"].map(lambda d: Path(d).name), frame["integrity"]))
    assert by_dir["clean"] == VERIFIED and by_dir["older"] == NO_DIGEST
    assert all(by_dir[name].startswith("MISMATCH") for name in flagged)

    # leaderboard: shown, marked, never ranked (the edited 99 dB would otherwise be best)
    records = sorted(load_records([runs])[0], key=lambda pr: pr[0].name)
    for path, loaded in records:  # in memory, after the check: rank them as complete runs of a model, one run each
        loaded.update(
            completeness={"complete": True, "reasons": []},
            adapter={**loaded["adapter"], "name": "a-model"},
            run_id=f"{path.name}-{loaded['run_id']}",
        )
    (table,) = leaderboard_tables(records)
    rows = {Path(r["path"]).name: r for r in table["rows"]}
    assert rows["edited"]["mismatch"] and rows["edited"]["cells"]["psnr"]["text"].startswith("⚠")
    assert not rows["edited"]["cells"]["psnr"]["best"] and rows["clean"]["cells"]["psnr"]["best"]
    assert not rows["clean"]["mismatch"] and not rows["older"]["mismatch"]

    # paper tables: a flagged run is never picked silently; pinned, its reasons say why
    pinned = select_runs([edited]).runs[("still", "mini")]
    assert any("record.json was edited" in reason for reason in pinned.reasons)
    assert pinned.warning == "RECORD DOES NOT MATCH ITS ROWS"  # not "INCOMPLETE RUN": the worse problem is named
    from benchmark.reports.tables import build_results_table, render_markdown

    text = render_markdown(build_results_table([edited], "mini", ["psnr"]))
    assert "⚠ RECORD DOES NOT MATCH ITS ROWS" in text and "⚠ INCOMPLETE RUN" not in text

    # compare: the comparison says which side cannot be trusted
    text = render_comparison(compare_runs(clean, edited))
    assert f"(!) B = {edited}: MISMATCH: record.json was edited" in text
    assert "(!)" not in render_comparison(compare_runs(clean, older))


def test_an_edited_newer_copy_never_hides_the_run_it_was_copied_from(good_run, tmp_path):
    from benchmark.reports.leaderboard import leaderboard_tables

    runs = tmp_path / "runs"
    _copy(good_run, runs, "a-clean")
    edited = _copy(good_run, runs, "b-edited")  # newer, and its value edited: it must not stand for the run
    record = json.loads((edited / "record.json").read_text())
    record.update(finished_at="2999-01-01T00:00:00+00:00")
    record["results"]["psnr"]["value"] = 99.0
    (edited / "record.json").write_text(json.dumps(record))
    (table,) = leaderboard_tables(load_records([runs])[0])
    assert [Path(r["path"]).name for r in table["rows"]] == ["a-clean"] and not table["rows"][0]["mismatch"]
    assert len(table["hidden"]) == 1 and "b-edited: a copy" in table["hidden"][0]


def test_the_digest_is_in_the_record_and_identical_for_merged_shards(good_run, shards, tmp_path):
    merged = merge_runs(shards, tmp_path / "merged", log=lambda s: None)
    local = load_record(good_run)
    assert load_record(merged.run_dir)["integrity"] == local["integrity"]
    assert local["integrity"]["n_rows"] == 4


# ---- item 7: unreadable run files are one line, and the other runs are still listed ------------


@pytest.fixture
def good_and_truncated(good_run, tmp_path) -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    good = _copy(good_run, runs, "good")
    bad = _copy(good_run, runs, "bad")
    text = (bad / "record.json").read_text()
    (bad / "record.json").write_text(text[: len(text) // 2])  # a copy cut short
    return good, bad


def _one_line_about(stderr: str, bad: Path) -> None:
    assert "Traceback" not in stderr and "JSONDecodeError" not in stderr
    lines = [line for line in stderr.splitlines() if str(bad) in line]
    assert len(lines) == 1 and "not valid JSON" in lines[0], stderr


def test_leaderboard_with_a_truncated_record_lists_the_other_runs(good_and_truncated, mini_data_root, tmp_path):
    good, bad = good_and_truncated
    proc = run_bench(
        "leaderboard", str(good.parent), "-o", str(tmp_path / "site"), data_root=mini_data_root, cwd=tmp_path
    )
    _one_line_about(proc.stderr, bad)
    assert proc.stderr.startswith(f"skipped {bad}: ")
    assert str(good) in (tmp_path / "site" / "index.html").read_text()


def test_table_with_a_truncated_record_lists_the_other_runs(good_and_truncated, mini_data_root, tmp_path):
    good, bad = good_and_truncated
    proc = run_bench(
        "table",
        "kumar2020-man-1",
        "--substitute",
        "grid=mini",
        "--runs",
        str(good),
        "--runs",
        str(bad),
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    _one_line_about(proc.stderr, bad)
    assert "still (measured here)" in proc.stdout and str(good) in proc.stdout


def test_compare_with_a_truncated_record_is_one_line(good_and_truncated, mini_data_root, tmp_path):
    good, bad = good_and_truncated
    proc = run_bench("compare", str(good), str(bad), data_root=mini_data_root, cwd=tmp_path, check_codes=(1,))
    _one_line_about(proc.stderr, bad)
    assert proc.stderr.startswith(f"error: {bad / 'record.json'}: not valid JSON")


def test_export_results_with_a_truncated_record_exports_the_other_runs(good_and_truncated, mini_data_root, tmp_path):
    good, bad = good_and_truncated
    out = tmp_path / "runs.csv"
    proc = run_bench("export-results", str(good.parent), "-o", str(out), data_root=mini_data_root, cwd=tmp_path)
    _one_line_about(proc.stderr, bad)
    exported = out.read_text()
    assert str(good) in exported and str(bad) not in exported


def test_a_truncated_run_json_is_one_line_too(good_run, tmp_path):
    run_dir = _copy(good_run, tmp_path, "run")
    (run_dir / "run.json").write_text((run_dir / "run.json").read_text()[:100])
    from benchmark.core.records import load_rows

    with pytest.raises(BenchError, match=r"run.json: not valid JSON"):
        load_rows(run_dir)


def test_a_data_dir_that_is_a_file_is_one_line(mini_data_root, tmp_path):
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    proc = run_bench(
        "prepare", "mini", "--data-dir", str(a_file), data_root=mini_data_root, cwd=tmp_path, check_codes=(1,)
    )
    assert proc.stderr.startswith(f"error: --data-dir {a_file} is a file, not a folder")
    assert "Traceback" not in proc.stderr
    from benchmark.core.settings import Settings

    with pytest.raises(BenchError, match=r"\$BENCH_DATA .* lies under .*data.txt, which is a file"):
        Settings.create(environ={"BENCH_DATA": str(a_file / "sub")})


def test_a_label_whose_run_cannot_be_read_says_so(good_run, tmp_path):
    """`bench compare det still` answered "'det' is neither a run folder nor the label of a run" when det's
    record.json was cut short: the folder is there, the message must name why it cannot be used."""
    from benchmark.reports.selection import resolve_run

    runs = tmp_path / "runs"
    broken = _copy(good_run, runs, good_run.name)  # still-seed0-…: the folder of the label 'still'
    text = (broken / "record.json").read_text()
    (broken / "record.json").write_text(text[: len(text) // 2])
    with pytest.raises(
        BenchError, match=r"'still' is neither .*a run folder of that name cannot be read: .*not valid JSON"
    ):
        resolve_run("still", [runs])
