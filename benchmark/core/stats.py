"""Mergeable summary statistics and bootstrap intervals over per-clip values."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0


RESAMPLE_CHUNK_ELEMENTS = 1 << 20  # indices drawn at a time: 8 MB, whatever the number of clips


def bootstrap_indices(n: int, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> np.ndarray:
    """(resamples, n) clip indices drawn with replacement: the one resampling scheme of record, compare and site.
    Whole, it is resamples x n int64 (160 MB at 10,000 clips): `resampled_sums` draws the same in chunks."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def resampled_sums(
    columns: dict[str, np.ndarray], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict[str, np.ndarray]:
    """Each (n,) column summed over every resample of `bootstrap_indices(n, resamples, seed)`, the same
    indices for every column (paired): {name: (resamples,)}. The indices are drawn a chunk of resamples
    at a time from the same generator, so the sums equal the whole matrix's while memory stays bounded."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    n = len(next(iter(arrays.values())))
    rng = np.random.default_rng(seed)
    step = max(1, RESAMPLE_CHUNK_ELEMENTS // max(n, 1))
    out = {k: np.empty(resamples) for k in arrays}
    for start in range(0, resamples, step):
        idx = rng.integers(0, n, size=(min(step, resamples - start), n))
        for k, x in arrays.items():
            out[k][start : start + len(idx)] = x[idx].sum(1)
    return out


def percentile_interval(samples: np.ndarray, level: float = 0.95) -> list[float]:
    tail = (1 - level) / 2
    return [float(np.quantile(samples, tail)), float(np.quantile(samples, 1 - tail))]


def bootstrap_ci(values, level: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED):
    """Percentile bootstrap interval of the mean; None with fewer than two values."""
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    return percentile_interval(resampled_sums({"x": x}, resamples, seed)["x"] / x.size, level)


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
    closure rates over clips with different numbers of events. `means` names results that are
    the plain mean of some of those pooled ratios (a balanced score: each ratio weighs the same
    whatever its number of events). The interval resamples clips and recomputes the primary
    result from the resampled sums, so it means the same thing as the value.
    """

    ratios: dict[str, tuple[str, str]]  # result name -> (numerator key, denominator key)
    primary: str  # the result reported as "value": a name in `ratios` or in `means`
    counts: list[dict[str, float]] = field(default_factory=list)
    means: dict[str, tuple[str, ...]] = field(default_factory=dict)  # result name -> ratio names averaged

    @property
    def aggregation(self) -> str:
        if self.primary in self.means:
            return f"mean of ratios of sums over clips (pooled): {', '.join(self.means[self.primary])}"
        return "ratio of sums over clips (pooled)"

    def add(self, value: float | None, pooled: dict | None = None, artifacts=None) -> None:
        if pooled:
            self.counts.append({k: float(v) for k, v in pooled.items()})

    def merge(self, other: "PooledState") -> "PooledState":
        return PooledState(self.ratios, self.primary, self.counts + other.counts, self.means)

    def primary_keys(self) -> list[str]:
        """The count keys the primary result is computed from."""
        names = self.means.get(self.primary, (self.primary,))
        return sorted({k for name in names for k in self.ratios[name]})

    def evaluate(self, sums: dict, name: str | None = None):
        """Result `name` (default: the primary) from summed counts; scalars or arrays of resampled
        sums alike. NaN where a denominator is zero (a mean is NaN if any of its ratios is)."""
        name = name or self.primary
        if name in self.means:
            return sum(self.evaluate(sums, r) for r in self.means[name]) / len(self.means[name])
        num, den = (np.asarray(sums.get(k, 0.0), dtype=np.float64) for k in self.ratios[name])
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)

    def compute(self) -> dict:
        if not self.counts:
            return {"value": None, "n": 0, "ci95": None}
        # canonical order (sorted clip contributions): independent of arrival and merge order
        counts = sorted(self.counts, key=lambda c: sorted(c.items()))
        keys = sorted({k for c in counts for k in c})
        totals = {k: sum(c.get(k, 0.0) for c in counts) for k in keys}
        results = {name: finite_or_none(float(self.evaluate(totals, name))) for name in [*self.ratios, *self.means]}
        ci = None
        if len(counts) > 1 and results[self.primary] is not None:
            resampled = resampled_sums({k: np.array([c.get(k, 0.0) for c in counts]) for k in self.primary_keys()})
            boots = self.evaluate(resampled)
            boots = boots[np.isfinite(boots)]
            if boots.size:
                ci = percentile_interval(boots)
        return {
            "value": results[self.primary],
            "n": len(counts),
            "ci95": ci,
            **{k: v for k, v in results.items() if k != self.primary},
            "totals": totals,
        }
