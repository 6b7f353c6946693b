"""`bench check`: goldens round-trip, and changing a metric's default parameter is caught by name."""

from __future__ import annotations

import json

from benchmark.engine.check import compare_to_golden, run_check
from metrics.ssim import SSIM

CONFIG = [{"name": "still", "model": "still", "model_args": {}, "metrics": ["ssim", "psnr"]}]


def test_changed_default_parameter_fails_with_a_diff_naming_the_metric(mini_data_root, tmp_path, monkeypatch):
    golden = tmp_path / "golden.json"
    assert run_check(golden, update=True, data_dir=mini_data_root, configs=CONFIG, echo=lambda s: None) == []
    stored = json.loads(golden.read_text())
    assert stored["configs"][0]["golden"]["ssim"]["params"]["sigma"] == 1.5
    assert run_check(golden, data_dir=mini_data_root, echo=lambda s: None) == []  # same code: no drift

    monkeypatch.setattr(SSIM, "default_params", {**SSIM.default_params, "sigma": 2.0})
    lines = []
    drifts = run_check(golden, data_dir=mini_data_root, echo=lines.append)
    assert {d.metric for d in drifts} == {"ssim"}
    assert any("parameters changed (sigma: 1.5 -> 2.0)" in d.message for d in drifts)
    assert any("outside" in d.message for d in drifts)  # and the value itself moved out of its window
    assert any(line.startswith("  DRIFT still / ssim") for line in lines)


def test_window_is_two_sided():
    gold = {"psnr": {"value": 20.0, "window": 0.05, "params": {}, "backend": "torch"}}
    for value, drifted in ((20.04, False), (19.96, False), (20.06, True), (19.94, True)):
        now = {"psnr": {"value": value, "params": {}, "backend": "torch"}}
        assert bool(compare_to_golden("c", gold, now)) is drifted
