"""Where prepared data, weights and run outputs live: thin wrappers over `Settings.create` for the CLI.

Backends never call these: they are given `Settings.weights_dir`. The functions stay so a command
that needs one folder (`bench weights`, `bench calibrate`) resolves it by the same rules as a run.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.core.settings import DATA_ENV, WEIGHTS_ENV, Settings

__all__ = ["DATA_ENV", "WEIGHTS_ENV", "DEFAULT_RUNS_DIR", "data_root", "weights_root"]

DEFAULT_RUNS_DIR = Path("results") / "runs"


def data_root(override: str | Path | None = None) -> Path:
    """Prepared protocols: --data-dir, else $BENCH_DATA, else ~/.cache/talking-head-bench."""
    return Settings.create(data_dir=override).data_dir


def weights_root(override: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Model weights: --weights, else $BENCH_WEIGHTS, else <data root>/weights (where the metric weights live too)."""
    return Settings.create(data_dir=data_dir, weights_dir=override).weights_dir
