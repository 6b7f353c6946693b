"""`bench speed cpbd` prints figures (never asserted on): here only that it runs and agrees with the package."""

from __future__ import annotations

import pytest


def test_speed_cpbd_reports_agreement_and_every_path():
    pytest.importorskip("cpbd")
    from benchmark.tools.speed.cpbd import run

    printed: list[str] = []
    result = run(size=96, frames=4, reference_frames=2, echo=printed.append)
    assert result["max_abs_difference"] <= 1e-12
    assert {"reference_ms_per_frame", "numpy_only_1_thread_ms_per_frame", "ours_1_thread_ms_per_frame"} <= set(result)
    assert any("numpy steps only" in line for line in printed)
