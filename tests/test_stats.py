"""Aggregates merge exactly across shards; intervals are reproducible and honest."""

import numpy as np
import pytest

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


@pytest.mark.parametrize("n", [2, 7, 1000])
def test_bootstrap_sums_in_chunks_equal_the_whole_index_matrix(n, monkeypatch):
    """The driver's memory at 10,000 clips: resampling in chunks gives the very sums the (2000, n) matrix gave."""
    from benchmark.core import stats

    x, y = np.random.default_rng(n).normal(size=(2, n))
    idx = stats.bootstrap_indices(n)
    monkeypatch.setattr(stats, "RESAMPLE_CHUNK_ELEMENTS", 3 * n + 1)  # 3 resamples a chunk: many chunks
    sums = stats.resampled_sums({"x": x, "y": y})
    assert np.array_equal(sums["x"], x[idx].sum(1)) and np.array_equal(sums["y"], y[idx].sum(1))
    assert stats.bootstrap_ci(x) == stats.percentile_interval(x[idx].mean(axis=1))
