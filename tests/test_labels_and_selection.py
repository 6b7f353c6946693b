"""Run labels (--name) and run selection: what the index, `bench compare` and `bench table` show.

Two folders of externally made videos, scored as `--name a` and `--name b`, must show as two
labelled rows everywhere; a `--limit 4` smoke run made later must not replace a full run in a
table; two complete runs under one label are an error, not a silent choice; a pinned incomplete
run is shown, loudly.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from benchmark.core.errors import BenchError
from benchmark.core.media import write_video
from benchmark.core.records import load_record
from benchmark.engine.runner import check_label
from benchmark.reports.site import build_site
from benchmark.reports.tables import build_table, render_markdown
from tests.conftest import run_bench


def _record_dir(runs, label):
    for path in runs.rglob("record.json"):
        record = json.loads(path.read_text())
        if record["label"] == label and record["completeness"]["complete"]:
            return path.parent
    raise AssertionError(f"no complete run labelled {label}")


@pytest.fixture(scope="module")
def labelled(mini, mini_data_root, tmp_path_factory):
    """Folder runs `a` (ground-truth copies) and `b` (noisy copies), then a later `--limit 4` run as `a`."""
    tmp = tmp_path_factory.mktemp("labels")
    rng = np.random.default_rng(7)
    for name, noise in (("videos_a", 0), ("videos_b", 12)):
        for clip in mini.clips():
            frames = clip.load_frames().astype(np.int16)
            if noise:
                frames = frames + rng.integers(-noise, noise + 1, size=frames.shape)
            write_video(tmp / name / f"{clip.id}.mp4", np.clip(frames, 0, 255).astype(np.uint8), clip.fps, codec="ffv1")
    runs = tmp / "runs"
    common = ("--dataset", "mini", "--metrics", "psnr", "--out", str(runs), "--no-progress")
    for name, folder in (("a", "videos_a"), ("b", "videos_b")):
        run_bench(
            "run",
            "--model",
            "folder",
            "--model-args",
            f"dir={tmp / folder}",
            "--name",
            name,
            *common,
            data_root=mini_data_root,
            cwd=tmp,
        )
    smoke = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={tmp / 'videos_b'}",
        "--name",
        "a",
        "--limit",
        "4",
        *common,
        data_root=mini_data_root,
        cwd=tmp,
    )
    return tmp, runs, smoke


def test_records_carry_label_and_completeness(labelled):
    _, runs, smoke = labelled
    a = load_record(_record_dir(runs, "a"))
    assert a["label"] == "a" and a["adapter"]["name"] == "folder"
    assert a["completeness"] == {"complete": True, "reasons": []}
    assert a["protocol"]["n_protocol_clips"] == 12
    smoke_dir = next(
        p.parent for p in runs.rglob("record.json") if json.loads(p.read_text())["protocol"]["n_clips"] == 4
    )
    reasons = load_record(smoke_dir)["completeness"]["reasons"]
    assert reasons == ["subset: 4 of 12 clips (--limit 4)"]
    assert "--name a" in load_record(smoke_dir)["command"]


def test_index_shows_two_labelled_rows_and_does_not_rank_the_smoke_run(labelled, tmp_path):
    _, runs, _ = labelled
    index, _ = build_site([runs], tmp_path / "site")
    html = index.read_text()
    import re

    # the full run and the smoke run share the label "a": their run ids tell them apart
    assert len(re.findall(r">a \[run [0-9a-f]{8}\]</a> <span class=\"meta\">\(folder\)</span>", html)) == 2
    assert html.count('>b</a> <span class="meta">(folder)</span>') == 1
    assert html.count("incomplete, not ranked: subset: 4 of 12 clips (--limit 4)") == 1


def test_compare_names_both_labels(labelled, mini_data_root):
    tmp, runs, _ = labelled
    out = run_bench(
        "compare", str(_record_dir(runs, "a")), str(_record_dir(runs, "b")), data_root=mini_data_root, cwd=tmp
    ).stdout
    assert out.splitlines()[0].startswith("A = a (folder), ") and out.splitlines()[1].startswith("B = b (folder), ")
    assert "A better" in out  # PSNR of exact copies beats noisy copies


def test_table_rows_per_label_and_the_later_smoke_run_does_not_replace_the_full_run(labelled, mini_data_root):
    tmp, runs, _ = labelled
    table = build_table("alghamdi2023-5.1", [runs], {"grid": "mini"})
    rows = {r.method: r for r in table.rows}
    assert {"a (folder, measured here)", "b (folder, measured here)"} <= set(rows)
    full = load_record(_record_dir(runs, "a"))["results"]["psnr"]["value"]
    assert rows["a (folder, measured here)"].cells["grid/psnr"].measured == full
    assert not rows["a (folder, measured here)"].cells["grid/psnr"].incomplete
    out = run_bench(
        "table", "alghamdi2023-5.1", "--runs", str(runs), "--substitute", "grid=mini", data_root=mini_data_root, cwd=tmp
    ).stdout
    assert "| a (folder, measured here) |" in out and "| b (folder, measured here) |" in out
    assert "INCOMPLETE" not in out


def test_two_complete_runs_under_one_label_are_an_error_until_pinned(labelled, mini_data_root, tmp_path):
    tmp, runs, _ = labelled
    shutil.copytree(runs, tmp_path / "runs")
    run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={tmp / 'videos_b'}",
        "--name",
        "a",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--seed",
        "1",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    proc = run_bench(
        "table",
        "alghamdi2023-5.1",
        "--runs",
        str(tmp_path / "runs"),
        "--substitute",
        "grid=mini",
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "2 different complete runs are labelled 'a' on mini" in proc.stderr and "--runs" in proc.stderr
    assert "Traceback" not in proc.stderr
    pinned = _record_dir(runs, "a")
    out = run_bench(
        "table",
        "alghamdi2023-5.1",
        "--runs",
        str(pinned),
        "--substitute",
        "grid=mini",
        data_root=mini_data_root,
        cwd=tmp_path,
    ).stdout
    assert "| a (folder, measured here) |" in out and str(pinned) in out


def test_a_pinned_incomplete_run_is_marked_and_not_ranked(labelled):
    _, runs, _ = labelled
    smoke_dir = next(
        p.parent for p in runs.rglob("record.json") if json.loads(p.read_text())["protocol"]["n_clips"] == 4
    )
    table = build_table("alghamdi2023-5.1", [smoke_dir], {"grid": "mini"})
    cell = next(r for r in table.rows if r.method.startswith("a ")).cells["grid/psnr"]
    assert cell.incomplete and cell.mark == ""
    text = render_markdown(table)
    assert (
        "⚠ INCOMPLETE RUN" in text and "INCOMPLETE RUN (subset: 4 of 12 clips (--limit 4)), pinned with --runs" in text
    )


def test_only_incomplete_runs_are_not_used_and_the_footnote_says_how_to_use_one(labelled, tmp_path):
    _, runs, _ = labelled
    smoke_dir = next(
        p.parent for p in runs.rglob("record.json") if json.loads(p.read_text())["protocol"]["n_clips"] == 4
    )
    table = build_table("alghamdi2023-5.1", [smoke_dir.parent], {"grid": "mini"})  # the folder: searched, not pinned
    rows = {r.method for r in table.rows}
    assert "a (folder, measured here)" in rows  # the complete run of a is in the same folder
    only_smoke = tmp_path / "only-smoke"
    shutil.copytree(smoke_dir, only_smoke / smoke_dir.name)
    table = build_table("alghamdi2023-5.1", [only_smoke], {"grid": "mini"})
    assert not any(r.method.startswith("a ") for r in table.rows)
    assert any("a on mini: not used, every run found is incomplete" in n and "--runs" in n for n in table.footnotes)


def test_folder_run_without_a_name_is_warned_and_labelled_by_its_folder(labelled, mini_data_root, tmp_path):
    tmp, _, _ = labelled
    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        f"dir={tmp / 'videos_b'}",
        "--dataset",
        "mini",
        "--metrics",
        "psnr",
        "--limit",
        "1",
        "--out",
        str(tmp_path),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    assert "warning: no --name for this folder run; it is labelled 'videos_b'" in proc.stderr
    assert load_record(next(tmp_path.rglob("record.json")).parent)["label"] == "videos_b"


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "two\nlines", "tab\there"])
def test_a_bad_label_is_refused(name):
    with pytest.raises(BenchError, match="a run label must be 1 to 64 printable characters"):
        check_label(name)


def test_a_bad_label_is_one_clear_line_before_any_work(mini_data_root, tmp_path):
    proc = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--name",
        "two\nlines",
        "--out",
        str(tmp_path),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
        subprocess=True,
    )  # a real argv
    assert "a run label must be 1 to 64 printable characters" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.rglob("run.json"))
