"""Per-metric seconds per clip: in every row, summed by records.metric_seconds, never in the record."""

import json

import pytest

from benchmark.core.records import load_record, load_rows, metric_seconds
from benchmark.engine.runner import RunConfig, Runner

# what a re-reduced record may change: when it was made, by which command and executor
VOLATILE = {"started_at", "finished_at", "wall_time_s", "command", "execution", "code"}


def test_metric_seconds_by_hand():
    rows = [{"seconds": {"psnr": 0.5, "lmd": 2.0}}, {"seconds": {"psnr": 1.5}}, {"status": "failed"}]
    assert metric_seconds(rows) == {
        "psnr": {"clips": 2, "total_s": 2.0, "mean_s": 1.0},
        "lmd": {"clips": 1, "total_s": 2.0, "mean_s": 2.0},
    }


def test_rows_carry_each_metric_s_seconds_and_the_record_ignores_them(mini_data_root, tmp_path, capsys):
    from benchmark.cli import _print_metric_seconds

    config = RunConfig(
        model="still",
        dataset="mini",
        metrics=("psnr", "ssim"),
        limit=2,
        data_dir=mini_data_root,
        runs_dir=tmp_path,
        threads=1,
    )
    first = Runner(config, progress=False, log=lambda s: None).run()
    rows = load_rows(first.run_dir)
    assert len(rows) == 2
    for row in rows:
        assert set(row["seconds"]) == {"psnr", "ssim"} and all(s >= 0 for s in row["seconds"].values())
    summary = metric_seconds(rows)
    assert summary["psnr"]["clips"] == 2
    assert summary["psnr"]["total_s"] == pytest.approx(sum(r["seconds"]["psnr"] for r in rows), abs=1e-3)

    # other timings, same scores: the record reduced again is the same record
    path = first.run_dir / "clips.jsonl"
    stored = [json.loads(line) for line in path.read_text().splitlines()]
    for row in stored:
        for score in row["scores"].values():
            score["seconds"] = score["seconds"] * 7 + 3
        row["timing"] = {k: v + 11 for k, v in row["timing"].items()}
    path.write_text("".join(json.dumps(r) + "\n" for r in stored))
    again = Runner(config, progress=False, log=lambda s: None).run()
    assert again.n_tasks == 0 and again.run_dir == first.run_dir
    assert {k: v for k, v in again.record.items() if k not in VOLATILE} == {
        k: v for k, v in first.record.items() if k not in VOLATILE
    }
    assert metric_seconds(load_rows(again.run_dir))["psnr"]["total_s"] == pytest.approx(
        summary["psnr"]["total_s"] * 7 + 6, abs=1e-3
    )
    assert load_record(again.run_dir)["results"] == first.record["results"]
    capsys.readouterr()
    _print_metric_seconds(again.metric_seconds)  # the run summary's line, from the rows the run holds
    means = metric_seconds(load_rows(again.run_dir))
    assert again.metric_seconds == means
    assert (
        capsys.readouterr().out
        == f"  seconds per clip: psnr {means['psnr']['mean_s']:.3f}, ssim {means['ssim']['mean_s']:.3f}\n"
    )
