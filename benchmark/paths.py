"""Where prepared data and run outputs live (overridable by flag or environment variable)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "BENCH_DATA"


def data_root(override: str | Path | None = None) -> Path:
    """Prepared protocols: --data-dir, else $BENCH_DATA, else ~/.cache/talking-head-bench."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return Path.home() / ".cache" / "talking-head-bench"


DEFAULT_RUNS_DIR = Path("results") / "runs"

WEIGHTS_ENV = "BENCH_WEIGHTS"


def weights_root(override: str | Path | None = None, data_dir: str | Path | None = None) -> Path:
    """Model weights: --weights, else $BENCH_WEIGHTS, else <data root>/weights (where the metric weights live too)."""
    if override:
        return Path(override).expanduser()
    if os.environ.get(WEIGHTS_ENV):
        return Path(os.environ[WEIGHTS_ENV]).expanduser()
    return data_root(data_dir) / "weights"
