"""Paper tables: published numbers from the YAML, measured values from run records, marks, formats."""

from __future__ import annotations

import re

import pytest

from adapters import random_weights
from benchmark.core.records import load_record
from benchmark.reports.tables import TABLES, build_table, load_published, render_html, render_latex, render_markdown
from tests.conftest import MINI_ID, run_bench


@pytest.fixture(scope="module")
def runs(reference_runs):
    """Complete runs of the reference adapters on mini (tables use complete runs only)."""
    return reference_runs


def test_thesis_table_5_1_has_published_rows_and_measured_reference_rows(runs):
    table = build_table("alghamdi2023-5.1", [runs], {"grid": "mini"})
    published = load_published()["alghamdi2023_thesis_table_5_1"]
    assert [r.method for r in table.rows[: len(published["rows"])]] == [r["method"] for r in published["rows"]]
    wav2lip = next(r for r in table.rows if r.adapter == "wav2lip")
    assert wav2lip.cells["grid/psnr"].published == 17.83 and wav2lip.cells["grid/psnr"].status == "not run"
    still = next(r for r in table.rows if r.method.startswith("still"))
    record = load_record(next((runs / "mini").glob("still-*")))
    assert still.cells["grid/psnr"].measured == record["results"]["psnr"]["value"]
    assert still.cells["grid/fid"].status == "not run" and still.cells["tcd-timit/psnr"].status == "not run"
    assert still.reference and still.cells["grid/psnr"].mark == ""  # reference rows are not ranked
    # best / second per column among the methods: GRID PSNR 21.84 (first model), then 20.33 (second model)
    marks = {r.method: r.cells["grid/psnr"].mark for r in table.rows if r.cells["grid/psnr"].mark}
    assert marks == {
        "Ours, first model (talking-head StyleGAN)": "best",
        "Ours, second model (FFHQ StyleGAN + pSp)": "second",
    }
    assert f"{MINI_ID} standing in for grid" in table.footnotes[0]


def test_every_format_renders_measured_and_published(runs):
    table = build_table("alghamdi2023-5.1", [runs], {"grid": "mini"})
    md, html, tex = render_markdown(table), render_html(table), render_latex(table)
    still_psnr = load_record(next((runs / "mini").glob("still-*")))["results"]["psnr"]["value"]
    for text in (md, html, tex):
        assert "17.83" in text and f"{still_psnr:.2f}" in text and "(published; not run here)" in text
    assert "**21.84 (published; not run here)**" in md and "_20.33 (published; not run here)_" in md
    assert '<td class="best">21.84 <span class="muted">(published; not run here)</span></td>' in html
    assert r"\textbf{21.84 (published; not run here)}" in tex and r"\underline{20.33 (published; not run here)}" in tex
    assert r"$\uparrow$" in tex
    body = tex[: tex.index(r"\end{table}")]  # footnotes are printed in the table, not left as % comments
    assert r"\textsuperscript{1}~" in body and not any(line.startswith("% 1.") for line in tex.splitlines())
    assert "Prajwal et al. 2020 (Wav2Lip)" in html and "<script" not in html


def test_man_table_rows_by_dataset_and_unmeasurable_columns(runs):
    table = build_table("kumar2020-man-1", [runs], {"grid": "mini"})
    groups = [r.group for r in table.rows]
    assert groups.index("grid") < groups.index("crema-d") < groups.index("voxceleb2")
    man = next(r for r in table.rows if r.adapter == "man" and r.group == "grid")
    assert man.cells["/wer"].status == "n/a" and man.cells["/ssim"].status == "not run"
    still = next(r for r in table.rows if r.method.startswith("still") and r.group == "grid")
    assert isinstance(still.cells["/cpbd"].measured, float)
    assert not any(r.method.startswith("still") for r in table.rows if r.group == "crema-d")  # no protocol for it


def test_table_5_2_from_bench_profile(mini_data_root, tmp_path):
    random_weights.wav2lip_file(tmp_path / "w" / "wav2lip" / "wav2lip.pth")
    run_bench(
        "profile",
        "--model",
        "wav2lip",
        "--weights",
        str(tmp_path / "w"),
        "--frames",
        "8",
        "--save",
        str(tmp_path / "profiles"),
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    table = build_table("alghamdi2023-5.2", [], profile_paths=[tmp_path / "profiles"])
    row = next(r for r in table.rows if r.adapter == "wav2lip")
    assert round(row.cells["/params_m"].measured, 2) == row.cells["/params_m"].published == 36.30
    assert row.cells["/output"].measured == "256x256"
    out = run_bench(
        "table", "alghamdi2023-5.2", "--profiles", str(tmp_path / "profiles"), data_root=mini_data_root, cwd=tmp_path
    ).stdout
    assert re.search(r"36\.30<sup>1</sup> \(36\.30, [+-]0\.00\)", out)


def test_list_names_every_table(mini_data_root, tmp_path):
    out = run_bench("table", "--list", data_root=mini_data_root, cwd=tmp_path).stdout
    assert all(name in out for name in TABLES)


def test_published_blink_rates_are_compared_with_the_papers_detector():
    """MAN's blinks/s (and RSDGAN's beside it) use Vougioukas' detector: the column reads blink-vougioukas, not blink."""
    from pathlib import Path

    from benchmark.reports.selection import Selection, SelectedRun
    from benchmark.reports.tables import Cell, Footnotes, _measure

    record = {
        "protocol": {"id": "mini/v1", "name": "mini"},
        "adapter": {"name": "man", "fingerprint": "f"},
        "seed": 0,
        "clips": {"scored": 3},
        "run_id": "0123456789ab",
        "completeness": {"complete": True, "reasons": []},
        "results": {"blink": {"value": 0.61}, "blink-vougioukas": {"value": 0.27}},
        "metrics": [
            {"name": "blink", "variant": "blink", "backend": "mediapipe", "resolution": [256, 256]},
            {"name": "blink", "variant": "blink-vougioukas", "backend": "mediapipe", "resolution": [256, 256]},
        ],
    }
    notes, cell = Footnotes(), Cell()
    _measure(
        cell,
        Selection({("man", "mini"): SelectedRun(Path("run"), record, False)}),
        "man",
        "grid",
        "blinks_per_s",
        {"grid": "mini"},
        notes,
    )
    assert (cell.measured, cell.note, cell.status) == (0.27, 1, "")
    assert "blink-vougioukas" in notes.lines()[0]
    without, cell = dict(record, results={"blink": {"value": 0.61}}), Cell()
    _measure(
        cell,
        Selection({("man", "mini"): SelectedRun(Path("run"), without, False)}),
        "man",
        "grid",
        "blinks_per_s",
        {"grid": "mini"},
        Footnotes(),
    )
    assert cell.measured is None and cell.status == "not run"


def test_an_unreadable_profile_file_is_skipped_with_one_line(tmp_path):
    """A truncated `bench profile` row (Table 5.2) is left out naming the file, the table still builds."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    (folder / "wav2lip.json").write_text('{"model": "wav2lip", "params_m": 3')  # cut short
    (folder / "other.json").write_text("[1, 2]")  # JSON, but not a profile row
    lines = []
    table = build_table("alghamdi2023-5.2", [], profile_paths=[folder], log=lines.append)
    assert len(lines) == 2 and all(line.startswith("skipped ") for line in lines)
    assert any("wav2lip.json: not valid JSON" in line for line in lines)
    assert any("other.json: not a profile row" in line for line in lines)
    assert table.rows  # the published rows are still there
