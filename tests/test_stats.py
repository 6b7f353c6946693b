"""Aggregates merge exactly across shards; intervals are reproducible and honest."""

import numpy as np

from benchmark.core.stats import MeanState, bootstrap_ci


def test_shards_merge_to_the_single_pass_aggregate():
    values = np.random.default_rng(1).normal(20, 3, size=37)
    whole = MeanState()
    for v in values:
        whole.add(v)
    left, right = MeanState(), MeanState()
    for v in values[:15]:
        left.add(v)
    for v in values[15:]:
        right.add(v)
    assert left.merge(right).compute() == whole.compute()
    summary = whole.compute()
    assert summary["n"] == 37 and abs(summary["value"] - values.mean()) < 1e-12
    assert summary["min"] == values.min() and summary["max"] == values.max()


def test_bootstrap_interval_is_seeded_and_covers_the_mean():
    values = np.random.default_rng(2).normal(0.7, 0.05, size=50)
    lo, hi = bootstrap_ci(values)
    assert (lo, hi) == tuple(bootstrap_ci(values))
    assert lo < values.mean() < hi
    # about mean ± 1.96 standard errors
    se = values.std(ddof=1) / np.sqrt(values.size)
    assert abs((hi - lo) / (2 * 1.96 * se) - 1) < 0.15
    assert bootstrap_ci([1.0]) is None
    assert MeanState().compute()["value"] is None
