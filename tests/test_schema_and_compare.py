"""Run records against their JSON Schema, and `bench compare`'s paired bootstrap."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.reports.compare import compare_runs
from benchmark.core.errors import BenchError
from benchmark.core.records import load_record, load_rows
from tests.conftest import run_bench


@pytest.fixture(scope="module")
def two_runs(mini_data_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmp")
    dirs = {}
    for model in ("still", "ground-truth"):
        run_bench(
            "run",
            "--model",
            model,
            "--dataset",
            "mini",
            "--limit",
            "4",
            "--metrics",
            "psnr,ssim,bilabial",
            "--out",
            str(tmp),
            "--no-progress",
            data_root=mini_data_root,
            cwd=tmp,
        )
        dirs[model] = next((tmp / "mini").glob(f"{model}-seed0-*"))
    return dirs


def test_records_and_rows_match_the_schema(two_runs):
    for run_dir in two_runs.values():
        assert load_record(run_dir)["schema_version"] == 2
        assert len(load_rows(run_dir)) == 4


def test_a_record_violating_the_schema_is_named(two_runs, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(two_runs["still"], broken)
    record = json.loads((broken / "record.json").read_text())
    record["results"]["psnr"]["value"] = "23 dB"
    (broken / "record.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match=r"record.json: does not match the record schema v2 at results/psnr/value"):
        load_record(broken)
    record["schema_version"] = 0
    (broken / "record.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match="schema version 0, this harness reads 2"):
        load_record(broken)


def test_paired_comparison_against_ground_truth(two_runs):
    result = compare_runs(two_runs["still"], two_runs["ground-truth"])
    by = {m["metric"]: m for m in result["metrics"]}
    assert result["n_clips"] == 4
    rows_a = {r["clip_id"]: r["metrics"]["psnr"] for r in load_rows(two_runs["still"])}
    rows_b = {r["clip_id"]: r["metrics"]["psnr"] for r in load_rows(two_runs["ground-truth"])}
    expected = np.mean([rows_a[c] - rows_b[c] for c in rows_a])
    assert by["psnr"]["diff"] == pytest.approx(expected)
    assert by["psnr"]["ci95"][1] < 0 and by["psnr"]["better"] == "B"
    assert by["bilabial"]["kind"] == "pooled mean of ratios" and by["bilabial"]["better"] == "B"


def test_bench_compare_prints_the_table(two_runs, mini_data_root, tmp_path):
    out = run_bench(
        "compare", str(two_runs["still"]), str(two_runs["ground-truth"]), data_root=mini_data_root, cwd=tmp_path
    ).stdout
    assert "4 paired clips" in out and "B better" in out


def test_frame_pooled_results_without_a_clip_count_are_valid(two_runs):
    """FID/KID pool frames, not clips: their `n` is null (a real FID record failed validation once)."""
    from benchmark.core.records import validate

    record = load_record(two_runs["still"])
    record["results"]["fid"] = {
        "value": 15.8,
        "n": None,
        "ci95": None,
        "frames_generated": 900,
        "n_failed": 0,
        "n_na": 0,
        "n_clips": 4,
        "n_scored": 4,
        "coverage": "4/4",
        "failures": [],
    }
    validate(record, "record", two_runs["still"] / "record.json")


def test_results_as_dataframes_carry_the_records_numbers_and_provenance(two_runs, tmp_path):
    import pandas as pd

    from benchmark import load_clips, load_runs

    runs = load_runs([two_runs["still"].parent])
    assert set(runs["label"]) == {"still", "ground-truth"} and len(runs) == 2 * 3  # run x metric
    for model, run_dir in two_runs.items():
        record = load_record(run_dir)
        mine = runs[runs["run_dir"] == str(run_dir)].set_index("variant")
        for variant, result in record["results"].items():
            assert mine.loc[variant, "value"] == result["value"]
            assert mine.loc[variant, "coverage"] == result["coverage"]
        assert (mine["adapter_fingerprint"] == record["adapter"]["fingerprint"]).all()
        assert json.loads(mine.loc["psnr", "params"])["data_range"] == 255.0
        assert not mine["complete"].any() and mine["incomplete_reasons"].str.contains("subset: 4 of 12").all()
        clips = load_clips(run_dir)
        rows = load_rows(run_dir)
        assert list(clips["clip_id"]) == [r["clip_id"] for r in rows]
        assert list(clips["ssim"]) == [r["metrics"]["ssim"] for r in rows]
        assert clips["psnr"].mean() == pytest.approx(record["results"]["psnr"]["value"], rel=1e-12)  # mean over clips
    assert load_runs([two_runs["still"].parent], complete_only=True).empty  # --limit runs are not complete

    out = tmp_path / "runs.csv"
    run_bench("export-results", str(two_runs["still"].parent), "-o", str(out), data_root=tmp_path, cwd=tmp_path)
    back = pd.read_csv(out)
    assert len(back) == len(runs) and set(back["variant"]) == {"psnr", "ssim", "bilabial"}
    assert back.set_index(["run_id", "variant"])["value"].to_dict() == pytest.approx(
        runs.set_index(["run_id", "variant"])["value"].to_dict()
    )
    proc = run_bench(
        "export-results",
        str(two_runs["still"].parent),
        "-o",
        str(tmp_path / "runs.xlsx"),
        data_root=tmp_path,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "cannot tell the format" in proc.stderr and "Traceback" not in proc.stderr


def test_leaderboard_cells_are_the_dataframe_rows(two_runs):
    """One table model: every leaderboard cell shows the value and status `load_runs` gives for that run."""
    from benchmark import load_runs
    from benchmark.reports.leaderboard import leaderboard_tables
    from benchmark.core.records import load_records

    runs = load_runs([two_runs["still"].parent]).set_index(["run_id", "variant"])
    (table,) = leaderboard_tables(load_records([two_runs["still"].parent])[0])
    cells = 0
    for row in table["rows"]:
        for variant, cell in row["cells"].items():
            frame_row = runs.loc[(row["run_id"], variant)]
            assert cell["value"] == frame_row["value"] and frame_row["status"] == "scored"
            assert cell["coverage"] == frame_row["partial_coverage"] == ""
            cells += 1
    assert cells == len(runs) == 6
