"""One cell formatter with a declared precision per output, and typed run metrics (issue 25, item 4).

The leaderboard and the paper tables printed numbers with two formatters (4 and 3 decimals);
they now share `format_number` and declare their precision. The printed texts stay what they
were: the expected strings below are written by hand from the rules the two outputs documented.
"""

from __future__ import annotations

import math
from dataclasses import fields

import pytest

from benchmark.reports import leaderboard, tables
from benchmark.reports.cells import LEADERBOARD, PAPER_TABLES, Precision, format_number
from benchmark.reports.frames import RUN_COLUMNS, RunMetric, run_metrics


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (0.87654, "", "0.8765"),
        (12.3456, "", "12.35"),
        (-12.3456, "", "-12.35"),
        (0.8765, "dB", "0.88"),
        (31.5213, "dB", "31.52"),
        (0.0012, "", "0.0012"),
        (3, "", "3.0000"),
        (None, "", "—"),
        (math.nan, "", "—"),
        (math.inf, "", "—"),
    ],
)
def test_the_leaderboard_prints_four_decimals_and_two_from_ten_or_in_db(value, unit, text):
    assert format_number(value, LEADERBOARD, unit) == text


@pytest.mark.parametrize(
    "value, text",
    [
        (0.87654, "0.877"),
        (12.3456, "12.35"),
        (0.0123, "0.012"),
        (0.00123, "0.0012"),
        (0.0, "0"),
        (1024, "1024"),
        ("256x256", "256x256"),
        (None, "—"),
        (31.5213, "31.52"),
    ],
)
def test_the_paper_tables_print_three_decimals_and_significant_digits_below_a_hundredth(value, text):
    assert format_number(value, PAPER_TABLES) == text


def test_both_outputs_print_through_the_one_formatter(monkeypatch):
    seen = []
    monkeypatch.setattr(leaderboard, "format_number", lambda v, p, unit="": seen.append(p) or "x")
    monkeypatch.setattr(tables, "format_number", lambda v, p, unit="": seen.append(p) or "x")
    leaderboard._format(1.0, "")
    tables._cell_text(tables.Cell(published=1.0, measured=2.0))
    assert seen == [LEADERBOARD, PAPER_TABLES, PAPER_TABLES]
    assert isinstance(LEADERBOARD, Precision) and LEADERBOARD.decimals == 4 and PAPER_TABLES.decimals == 3


RECORD = {
    "run_id": "r1",
    "label": "mine",
    "seed": 0,
    "finished_at": "2026-01-01T00:00:00",
    "protocol": {"id": "mini/v2", "version": "v2", "n_clips": 4, "subset": {"limit": None, "seed": 0}, "shard": None},
    "adapter": {"name": "still", "fingerprint": "f" * 64, "weights": {}},
    "device": {"requested": "cpu", "torch": "2.0"},
    "code": {"commit": "c0ffee", "dirty": False},
    "clips": {"total": 4, "scored": 4, "failed": 0},
    "failures": [],
    "completeness": {"complete": True, "reasons": []},
    "metrics": [
        {
            "name": "psnr",
            "variant": "psnr",
            "direction": "higher",
            "unit": "dB",
            "backend": "torch",
            "params": {},
            "resolution": [256, 256],
        },
        {"name": "blink", "variant": "blink", "direction": "closest-to-ground-truth", "backend": "mediapipe"},
        {"name": "lse-c", "variant": "lse-c", "direction": "higher", "backend": "syncnet"},
    ],
    "results": {
        "psnr": {
            "value": 30.5,
            "ci95": [29.0, 32.0],
            "n": 4,
            "coverage": "4/4",
            "n_scored": 4,
            "n_clips": 4,
            "n_failed": 0,
            "n_na": 0,
        },
        "blink": {
            "value": 0.2,
            "reference_value": 0.25,
            "n": 4,
            "coverage": "3/4",
            "n_scored": 3,
            "n_clips": 4,
            "n_failed": 1,
            "n_na": 0,
        },
        "lse-c": {
            "value": None,
            "coverage": "0/4",
            "n_scored": 0,
            "n_clips": 4,
            "n_failed": 0,
            "n_na": 4,
            "na_reason": "no weights: syncnet_v2.model",
        },
    },
}


def test_a_run_metric_is_typed_and_its_fields_are_the_load_runs_columns():
    found = {m.variant: m for m in run_metrics("runs/r1", RECORD)}
    assert all(isinstance(m, RunMetric) for m in found.values())
    assert RUN_COLUMNS == tuple(f.name for f in fields(RunMetric))
    psnr, blink, lse = found["psnr"], found["blink"], found["lse-c"]
    assert (psnr.value, psnr.status, psnr.ci95_low, psnr.ci95_high, psnr.resolution) == (
        30.5,
        "scored",
        29.0,
        32.0,
        "256x256",
    )
    assert psnr.reference_run and psnr.label == "mine" and psnr.protocol == "mini/v2" and psnr.integrity == "unchecked"
    assert (blink.reference_value, blink.partial_coverage) == (0.25, "3/4")
    assert (lse.value, lse.status) == (None, "n/a: no weights")
    cell = leaderboard._cell(psnr)
    assert (cell["text"], cell["ci"]) == ("30.50", "95% CI 29.00–32.00")
    assert leaderboard._cell(blink)["ci"] == "ground truth 0.2500"
