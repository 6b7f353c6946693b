"""The user-facing surface: clear errors, listings, and the leaderboard page."""

import html
import json
import re
import shutil
from pathlib import Path

import pytest

from benchmark.reports.site import build_site
from benchmark.core.records import SCHEMA_VERSION, load_record
from benchmark.core.errors import BenchError
from benchmark.engine.runner import RunConfig, Runner
from tests.conftest import MINI_ID, run_bench


def test_unprepared_grid_says_what_to_do_without_a_traceback(tmp_path):
    proc = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "grid",
        data_root=tmp_path / "empty",
        cwd=tmp_path,
        check_codes=(1,),
        subprocess=True,
    )  # the installed console script, as a user runs it
    assert "grid is not prepared" in proc.stderr
    assert "bench prepare grid --source" in proc.stderr
    assert str(tmp_path / "empty" / "grid") in proc.stderr
    assert "Traceback" not in proc.stderr


def test_typo_in_model_name_fails_before_any_data_work(tmp_path):
    proc = run_bench(
        "run", "--model", "stil", "--dataset", "mini", data_root=tmp_path / "data", cwd=tmp_path, check_codes=(1,)
    )
    assert "Did you mean 'still'?" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()  # the mini protocol was not built for a run that cannot start


def test_list_commands(tmp_path):
    models = run_bench("list", "models", data_root=tmp_path, cwd=tmp_path).stdout
    assert all(name in models for name in ("ground-truth", "still", "folder"))
    metrics = run_bench("list", "metrics", data_root=tmp_path, cwd=tmp_path).stdout
    assert re.search(r"psnr\s+higher is better", metrics) and re.search(r"ssim\s+higher is better", metrics)
    for name in ("fid", "kid", "lmd", "acd", "blink", "cpbd", "bilabial", "lse-c", "lse-d"):
        assert re.search(rf"^{name}\s", metrics, re.M), name
    assert "variants: lmd, lmd-centered, lmd-sum, lmd-l1" in metrics and "variants: acd, acd-e, acd-identity" in metrics
    assert "mediapipe (default)" in metrics and "dlib-resnet (default)" in metrics
    datasets = run_bench("list", "datasets", data_root=tmp_path, cwd=tmp_path).stdout
    assert MINI_ID in datasets and "grid/unseen10-v1" in datasets and "tcd-timit" in datasets


@pytest.fixture(scope="module")
def limited_runs(mini_data_root, tmp_path_factory) -> Path:
    """`--limit 4` runs of ground-truth (psnr, ssim) and still (psnr only), made once for this module."""
    out = tmp_path_factory.mktemp("runs")
    cfg = dict(dataset="mini", limit=4, data_dir=mini_data_root, runs_dir=out)
    for model, metrics in (("ground-truth", ("psnr", "ssim")), ("still", ("psnr",))):
        assert (
            Runner(RunConfig(model=model, metrics=metrics, **cfg), progress=False, log=lambda s: None).run().exit_code
            == 0
        )
    return out


def _runs(limited_runs: Path, out: Path) -> tuple[Path, Path]:
    """A copy of the module's runs in `out`, free to edit: the ground-truth and the still run folders."""
    shutil.copytree(limited_runs, out)
    return next(out.glob("mini/ground-truth-*")), next(out.glob("mini/still-*"))


def test_leaderboard_marks_best_says_not_run_and_escapes(limited_runs, tmp_path):
    gt, still = _runs(limited_runs, tmp_path / "runs")
    # a user-supplied string (a third-party adapter's name) must come out escaped
    record = json.loads((still / "record.json").read_text())
    record["label"] = "<script>alert(1)</script>"
    (still / "record.json").write_text(json.dumps(record))
    index, skipped = build_site([tmp_path / "runs"], tmp_path / "site")
    page = index.read_text()
    assert skipped == []
    assert "<script>alert(1)</script>" not in page and html.escape("<script>alert(1)</script>") in page
    assert "not run" in page  # the still run has no SSIM
    # ground truth and still are references whatever their label: shown, never ranked; --limit runs are not ranked
    assert page.count("(reference, not ranked)") == 2
    assert page.count("incomplete, not ranked: subset: 4 of 12 clips (--limit 4)") == 2
    assert not re.search(r'<td class="best"', page)
    assert MINI_ID in page and "http://" not in page and "https://" not in page


def test_leaderboard_skips_incomplete_runs_and_refuses_unknown_schema(limited_runs, tmp_path):
    gt, _ = _runs(limited_runs, tmp_path / "runs")
    record = json.loads((gt / "record.json").read_text())
    record["schema_version"] = SCHEMA_VERSION + 1
    (gt / "record.json").write_text(json.dumps(record))
    with pytest.raises(BenchError, match="schema version"):
        load_record(gt)
    _, skipped = build_site([tmp_path / "runs"], tmp_path / "site")
    assert [p for p, _ in skipped] == [gt]


def test_leaderboard_command_prints_the_page_path(limited_runs, mini_data_root, tmp_path):
    proc = run_bench(
        "leaderboard", str(limited_runs), "-o", str(tmp_path / "site"), data_root=mini_data_root, cwd=tmp_path
    )
    assert f"leaderboard: {(tmp_path / 'site' / 'index.html').resolve()}" in proc.stdout


def test_default_metrics_and_all(mini_data_root, tmp_path):
    from benchmark.core.settings import Settings
    from metrics import DEFAULT_METRICS, expand_metric_names

    assert DEFAULT_METRICS == ("psnr", "ssim", "lmd", "cpbd", "blink", "bilabial")
    skipped = []
    expanded = expand_metric_names(("all",), Settings.create(data_dir=mini_data_root), skipped.append)
    assert {"fid", "kid", "acd", "cpbd", "bilabial"} <= set(expanded)
    if "lse-c" not in expanded:  # no SyncNet weights on this machine: named, not silently dropped
        assert any("lse-c" in line and "syncnet_v2.model" in line for line in skipped)


def _record(
    name: str, psnr: float, coverage: tuple[int, int], blink: float | None = None, complete: bool = True
) -> dict:
    n, total = coverage
    results = {
        "psnr": {
            "value": psnr,
            "n": n,
            "ci95": None,
            "n_failed": total - n,
            "n_na": 0,
            "n_clips": total,
            "n_scored": n,
            "coverage": f"{n}/{total}",
            "failures": [],
        }
    }
    metrics = [{"name": "psnr", "variant": "psnr", "direction": "higher", "unit": "dB"}]
    if blink is not None:
        results["blink"] = {
            "value": blink,
            "n": total,
            "ci95": None,
            "reference_value": 0.333,
            "n_failed": 0,
            "n_na": 0,
            "n_clips": total,
            "n_scored": total,
            "coverage": f"{total}/{total}",
            "failures": [],
        }
        metrics.append({"name": "blink", "variant": "blink", "direction": "none", "unit": "1/s"})
    return {
        "protocol": {"id": "mini/v1", "clip_list_fingerprint": "0" * 64},
        "metrics": metrics,
        "results": results,
        "adapter": {"name": name, "fingerprint": "f" * 64, "config": {}},
        "seed": 0,
        "clips": {"total": total, "scored": total, "failed": 0},
        "code": {"commit": "c" * 40},
        "run_id": name[:12],
        "completeness": {"complete": complete, "reasons": [] if complete else ["subset: 4 of 12 clips (--limit 4)"]},
    }


def test_leaderboard_ranks_only_full_coverage_models_never_references():
    from benchmark.reports.leaderboard import leaderboard_tables

    records = [
        (Path("gt"), _record("ground-truth", 100.0, (4, 4))),
        (Path("easy"), _record("weak-model", 40.0, (3, 4))),  # scored only its easy clips
        (Path("full"), _record("good-model", 30.0, (4, 4), blink=0.25)),
        (Path("other"), _record("other-model", 20.0, (4, 4))),
        (Path("smoke"), _record("smoke-model", 50.0, (4, 4), complete=False)),
    ]  # a --limit run of easy clips
    table = leaderboard_tables(records)[0]
    cells = {r["model"]: r["cells"]["psnr"] for r in table["rows"]}
    assert cells["good-model"]["best"] and not cells["weak-model"]["best"] and not cells["ground-truth"]["best"]
    assert not cells["smoke-model"]["best"]
    assert cells["weak-model"]["coverage"] == "3/4" and cells["good-model"]["coverage"] == ""
    blink = {r["model"]: r["cells"]["blink"] for r in table["rows"]}
    assert "ground truth 0.3330" in blink["good-model"]["ci"] and not blink["good-model"]["best"]
    assert blink["other-model"]["text"] == "not run"
