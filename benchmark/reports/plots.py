"""Small inline SVG plots for the leaderboard site: no JavaScript library, no CDN, crisp at any zoom."""

from __future__ import annotations

import math
from html import escape

import numpy as np

GENERATED, REFERENCE, EVENT = "#d9480f", "#1864ab", "#ffe066"


def _scale(lo: float, hi: float, a: float, b: float):
    span = (hi - lo) or 1.0
    return lambda v: a + (v - lo) / span * (b - a)


def time_series(
    series: list[tuple[str, np.ndarray, str]],
    fps: float,
    spans=(),
    marks=(),
    title: str = "",
    width: int = 520,
    height: int = 130,
) -> str:
    """Lines over time (seconds); `spans` shaded (start_s, end_s); `marks` = (frame, colour) ticks."""
    pad_l, pad_r, pad_t, pad_b = 38, 8, 16, 22
    values = np.concatenate([np.asarray(v, float)[np.isfinite(v)] for _, v, _ in series] or [np.zeros(1)])
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    n = max(len(v) for _, v, _ in series) if series else 1
    x = _scale(0, max(n - 1, 1) / fps, pad_l, width - pad_r)
    y = _scale(lo, hi, height - pad_b, pad_t)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
    ]
    for start, end in spans:
        parts.append(
            f'<rect x="{x(start):.1f}" y="{pad_t}" width="{max(x(end) - x(start), 1):.1f}" '
            f'height="{height - pad_t - pad_b}" fill="{EVENT}" opacity="0.6"/>'
        )
    for label, v, colour in series:
        pts = " ".join(
            f"{x(i / fps):.1f},{y(val):.1f}" for i, val in enumerate(np.asarray(v, float)) if math.isfinite(val)
        )
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" points="{pts}"><title>{escape(label)}</title></polyline>'
        )
    for frame, colour in marks:
        parts.append(
            f'<line x1="{x(frame / fps):.1f}" x2="{x(frame / fps):.1f}" y1="{height - pad_b}" y2="{height - pad_b - 8}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{height - pad_b}" y2="{height - pad_b}" stroke="#999"/>')
    parts.append(
        f'<text x="{pad_l}" y="{height - 6}" font-size="10">0 s</text>'
        f'<text x="{width - pad_r}" y="{height - 6}" font-size="10" text-anchor="end">{(n - 1) / fps:.1f} s</text>'
        f'<text x="{pad_l - 4}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">{hi:.2f}</text>'
        f'<text x="{pad_l - 4}" y="{y(lo):.1f}" font-size="10" text-anchor="end">{lo:.2f}</text>'
        f'<text x="{width / 2:.0f}" y="11" font-size="11" text-anchor="middle">{escape(title)}</text></svg>'
    )
    return "".join(parts)


def correlogram(
    lags: np.ndarray, series: list[tuple[str, np.ndarray, str]], title: str = "", width: int = 320, height: int = 130
) -> str:
    """Correlation against lag (frames), one line per side, a dashed line at lag 0 and a tick at each peak."""
    pad_l, pad_r, pad_t, pad_b = 38, 8, 16, 22
    lags = np.asarray(lags, dtype=float)
    values = np.concatenate([np.asarray(v, float)[np.isfinite(v)] for _, v, _ in series] or [np.zeros(1)])
    lo, hi = (min(float(values.min()), 0.0), max(float(values.max()), 0.0)) if values.size else (-1.0, 1.0)
    x = _scale(float(lags.min()), float(lags.max()), pad_l, width - pad_r)
    y = _scale(lo, hi if hi > lo else lo + 1, height - pad_b, pad_t)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="{pad_t}" y2="{height - pad_b}" stroke="#999" stroke-dasharray="3,3"/>',
        f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#ddd"/>',
    ]
    for label, v, colour in series:
        v = np.asarray(v, float)
        pts = " ".join(f"{x(k):.1f},{y(r):.1f}" for k, r in zip(lags, v) if math.isfinite(r))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" points="{pts}"><title>{escape(label)}</title></polyline>'
        )
        if np.isfinite(v).any():
            peak = lags[int(np.nanargmax(v))]
            parts.append(
                f'<line x1="{x(peak):.1f}" x2="{x(peak):.1f}" y1="{height - pad_b}" y2="{height - pad_b - 8}" '
                f'stroke="{colour}" stroke-width="2"><title>{escape(label)} peak: {peak:+.0f}</title></line>'
            )
    parts.append(
        f'<text x="{pad_l}" y="{height - 6}" font-size="10">{lags.min():+.0f}</text>'
        f'<text x="{x(0):.1f}" y="{height - 6}" font-size="10" text-anchor="middle">0 frames</text>'
        f'<text x="{width - pad_r}" y="{height - 6}" font-size="10" text-anchor="end">{lags.max():+.0f}</text>'
        f'<text x="{pad_l - 4}" y="{y(hi) + 4:.1f}" font-size="10" text-anchor="end">{hi:.2f}</text>'
        f'<text x="{pad_l - 4}" y="{y(lo):.1f}" font-size="10" text-anchor="end">{lo:.2f}</text>'
        f'<text x="{width / 2:.0f}" y="11" font-size="11" text-anchor="middle">{escape(title)}</text></svg>'
    )
    return "".join(parts)


MAX_DOTS = 300  # above this many clips a distribution is a histogram: a dot per clip grows the page by ~120 B a clip
HISTOGRAM_BINS = 40


def distribution(values: list[float], labels: list[str], title: str, width: int = 300, height: int = 70) -> str:
    """One dot per clip along the value axis (hover names the clip), with the mean as a bar; above
    MAX_DOTS clips, a histogram (hover gives each bin's range and count) with the extreme clips as dots."""
    finite = [(v, lab) for v, lab in zip(values, labels) if v is not None and math.isfinite(v)]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f'<title>{escape(title)}</title><text x="4" y="12" font-size="11">{escape(title)}</text>',
    ]
    if finite:
        vals = np.array([v for v, _ in finite])
        lo, hi = float(vals.min()), float(vals.max())
        x = _scale(lo, hi if hi > lo else lo + 1, 12, width - 12)
        if len(finite) <= MAX_DOTS:
            dots = list(enumerate(finite))
        else:
            parts += _histogram_bars(vals, lo, hi, x)
            order = np.argsort(vals, kind="stable")
            dots = [(int(i), finite[int(i)]) for i in (order[0], order[-1])]
        for i, (v, lab) in dots:
            jitter = 30 + (i * 7919 % 17) - 8
            parts.append(
                f'<circle cx="{x(v):.1f}" cy="{jitter}" r="3" fill="{GENERATED}" opacity="0.7"><title>{escape(lab)}: {v:.4g}</title></circle>'
            )
        mean = float(vals.mean())
        parts.append(
            f'<line x1="{x(mean):.1f}" x2="{x(mean):.1f}" y1="18" y2="44" stroke="#222" stroke-width="2"><title>mean {mean:.4g}</title></line>'
        )
        parts.append(
            f'<text x="12" y="{height - 6}" font-size="10">{lo:.4g}</text>'
            f'<text x="{width - 12}" y="{height - 6}" font-size="10" text-anchor="end">{hi:.4g}</text>'
        )
    else:
        parts.append('<text x="12" y="40" font-size="11" fill="#999">no per-clip values</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram_bars(vals: np.ndarray, lo: float, hi: float, x) -> list[str]:
    counts, edges = np.histogram(vals, bins=HISTOGRAM_BINS, range=(lo, hi if hi > lo else lo + 1))
    tallest = max(int(counts.max()), 1)
    bars = []
    for count, left, right in zip(counts, edges[:-1], edges[1:]):
        if not count:
            continue
        h = 26 * count / tallest
        bars.append(
            f'<rect x="{x(left):.1f}" y="{44 - h:.1f}" width="{max(x(right) - x(left) - 0.5, 0.5):.1f}" height="{h:.1f}" '
            f'fill="{GENERATED}" opacity="0.45"><title>{count} clips in [{left:.4g}, {right:.4g})</title></rect>'
        )
    return bars
