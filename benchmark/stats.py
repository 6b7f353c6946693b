"""Mergeable summary statistics and bootstrap intervals over per-clip values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


def bootstrap_indices(n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(resamples, n) clip indices drawn with replacement: the one resampling scheme of record, compare and site."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> list[float]:
    tail = (1 - level) / 2
    return [float(np.quantile(samples, tail)), float(np.quantile(samples, 1 - tail))]


def bootstrap_ci(values, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED):
    """Percentile bootstrap interval of the mean; None with fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    return percentile_interval(x[bootstrap_indices(x.size, resamples, seed)].mean(axis=1), level)


@dataclass
class MeanState:
    """Per-clip values of one metric: adds, merges across shards, summarises (HELM-style stats).

    It keeps the values themselves (one float per clip, not per frame) for the bootstrap, and
    summarises them in sorted order: the result does not depend on the order clips arrived or
    shards were merged in.
    """

    aggregation = "mean over clips"
    values: list[float] = field(default_factory=list)

    def add(self, value: float | None, pooled: dict | None = None, artifacts=None) -> None:
        if value is not None:
            self.values.append(float(value))

    def merge(self, other: "MeanState") -> "MeanState":
        return MeanState(self.values + other.values)

    def compute(self) -> dict:
        x = np.sort(np.asarray(self.values, dtype=np.float64))
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


@dataclass
class PooledState:
    """Counts summed over clips; results are ratios of sums, i.e. pooled over the protocol.

    Needed where per-clip averaging is wrong: blinks per second over 3-second GRID clips, or
    closure rates over clips with different numbers of events. The interval resamples clips.
    """

    aggregation = "ratio of sums over clips (pooled)"
    ratios: dict[str, tuple[str, str]]  # result name -> (numerator key, denominator key)
    primary: str  # the ratio reported as "value"
    counts: list[dict[str, float]] = field(default_factory=list)

    def add(self, value: float | None, pooled: dict | None = None, artifacts=None) -> None:
        if pooled:
            self.counts.append({k: float(v) for k, v in pooled.items()})

    def merge(self, other: "PooledState") -> "PooledState":
        return PooledState(self.ratios, self.primary, self.counts + other.counts)

    def _ratios(self, counts: list[dict[str, float]]) -> dict[str, float | None]:
        keys = {k for c in counts for k in c}
        sums = {k: sum(c.get(k, 0.0) for c in counts) for k in keys}
        out = {}
        for name, (num, den) in self.ratios.items():
            out[name] = sums.get(num, 0.0) / sums[den] if sums.get(den) else None
        return out

    def compute(self) -> dict:
        if not self.counts:
            return {"value": None, "n": 0, "ci95": None}
        # canonical order (sorted clip contributions): independent of arrival and merge order
        counts = sorted(self.counts, key=lambda c: sorted(c.items()))
        ratios = self._ratios(counts)
        keys = sorted({k for c in counts for k in c})
        totals = {k: sum(c.get(k, 0.0) for c in counts) for k in keys}
        ci = None
        if len(counts) > 1 and ratios[self.primary] is not None:
            num_key, den_key = self.ratios[self.primary]
            num = np.array([c.get(num_key, 0.0) for c in counts])
            den = np.array([c.get(den_key, 0.0) for c in counts])
            idx = bootstrap_indices(len(counts))
            dens = den[idx].sum(1)
            boots = num[idx].sum(1)[dens > 0] / dens[dens > 0]
            if boots.size:
                ci = percentile_interval(boots)
        return {"value": ratios[self.primary], "n": len(counts), "ci95": ci,
                **{k: v for k, v in ratios.items() if k != self.primary}, "totals": totals}
