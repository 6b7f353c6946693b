"""Per-frame bookkeeping the motion metrics share: which frames are valid, and differences that never
cross a gap (a frame without a face) unless a metric's source bridges them on purpose."""

from __future__ import annotations

import numpy as np


def valid_frames(*signals: np.ndarray, found: np.ndarray | None = None) -> np.ndarray:
    """Frames where every signal is finite (all axes after the first) and, if given, a face was found."""
    n = len(signals[0])
    ok = np.ones(n, dtype=bool) if found is None else np.asarray(found, dtype=bool).copy()
    for s in signals:
        s = np.asarray(s, dtype=np.float64)
        ok &= np.isfinite(s.reshape(n, -1)).all(axis=1)
    return ok


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of consecutive True frames."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def frame_diffs(values: np.ndarray, valid: np.ndarray, bridge_gaps: bool) -> np.ndarray:
    """Differences of consecutive valid frames along axis 0.

    bridge_gaps=True: the valid frames are concatenated first, so a difference spans any gap (what
    THEval's loops do); False: differences only inside runs of consecutive valid frames (our variants)."""
    values = np.asarray(values, dtype=np.float64)
    valid = np.asarray(valid, dtype=bool)
    if bridge_gaps:
        return np.diff(values[valid], axis=0)
    parts = [np.diff(values[a:b], axis=0) for a, b in runs(valid) if b - a > 1]
    return np.concatenate(parts) if parts else np.zeros((0,) + values.shape[1:])
