"""Mergeable summary statistics and bootstrap intervals over per-clip values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def bootstrap_ci(values, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED):
    """Percentile bootstrap interval of the mean; None with fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    return [float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))]


@dataclass
class MeanState:
    """Per-clip values of one metric: adds, merges across shards, summarises (HELM-style stats).

    It keeps the values themselves (one float per clip, not per frame) for the bootstrap.
    """

    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(float(value))

    def merge(self, other: "MeanState") -> "MeanState":
        return MeanState(self.values + other.values)

    def compute(self) -> dict:
        x = np.asarray(self.values, dtype=np.float64)
        if x.size == 0:
            return {"value": None, "n": 0, "ci95": None, "std": None, "min": None, "max": None}
        return {
            "value": float(x.mean()),
            "n": int(x.size),
            "ci95": bootstrap_ci(x),
            "std": float(x.std(ddof=1)) if x.size > 1 else 0.0,
            "min": float(x.min()),
            "max": float(x.max()),
        }


def finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else x
