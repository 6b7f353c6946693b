"""`bench speed suite` prints figures (never asserted on): here only that it runs and its values agree."""

from __future__ import annotations

import pytest


def test_speed_suite_compares_values_with_the_references(mini_data_root):
    pytest.importorskip("cpbd")
    from benchmark.tools.speed.suite import run

    printed: list[str] = []
    result = run(
        "mini",
        limit=1,
        data_dir=mini_data_root,
        threads=1,
        echo=printed.append,
        metrics=("psnr", "ssim", "cpbd", "lmd", "acd"),
        sample_pairs=6,
    )
    lines = {line["metric"]: line for line in result["lines"]}
    assert set(lines) == {"psnr", "ssim", "cpbd", "lmd", "acd"}
    assert 0 < lines["acd"]["reference_shared_s_per_pair"] < lines["acd"]["reference_s_per_pair"]
    assert lines["lmd"]["reference"].startswith("dlib68") and lines["cpbd"]["reference_value"] > 0
    assert abs(lines["psnr"]["harness_value"] - lines["psnr"]["reference_value"]) < 1e-9
    assert abs(lines["ssim"]["harness_value"] - lines["ssim"]["reference_value"]) < 1e-4
    assert all(line["harness_s_per_pair"] > 0 for line in lines.values())
    assert printed[-1].startswith("suite (one shared context per clip)")


def test_speed_suite_also_times_the_suite_without_fid(mini_data_root):
    pytest.importorskip("cpbd")
    from benchmark.tools.speed.suite import run

    printed: list[str] = []
    result = run(
        "mini",
        limit=1,
        data_dir=mini_data_root,
        threads=1,
        echo=printed.append,
        metrics=("psnr", "fid"),
        sample_pairs=4,
    )
    assert printed[-2].startswith("suite (one shared context per clip)")
    assert printed[-1].startswith("suite without fid (1 metrics)")
    assert result["suite_without_fid_pairs_per_s"] > 0 and result["suite_pairs_per_s"] > 0  # figures, never compared
    assert result["reference_suite_without_fid_pairs_per_s"] > 0


def test_the_reference_suite_pays_for_shared_landmarks_once():
    from benchmark.tools.speed.suite import Line, reference_suite_s_per_pair

    lines = [
        Line("psnr", 1e-4, "skimage", 2e-4),
        Line("lmd", 1e-3, "dlib68", 0.08),
        Line("blink", 1e-3, "dlib68", 0.08, reference_shared_s_per_pair=0.08),
        Line("acd", 0.1, "dlib68 + ResNet", 0.15, reference_shared_s_per_pair=0.03),
        Line("fid", 0.1),
    ]
    assert reference_suite_s_per_pair(lines) == pytest.approx(2e-4 + 0.08 + 0.12)


def test_a_device_torch_cannot_see_stops_before_any_work(tmp_path):
    import torch

    from benchmark.core.errors import BenchError
    from benchmark.tools.speed.suite import run

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(BenchError, match="no CUDA device"):
        run("mini", limit=1, data_dir=tmp_path, device="cuda")
    assert not any(tmp_path.iterdir())  # nothing was built
