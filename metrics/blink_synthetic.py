"""Synthesised EAR traces with known blinks, to measure blink detectors where no labelled video exists.

Each trace has an open-eye level drawn from `open_range`, a slow sinusoidal drift (head pose
changes the apparent eye shape), i.i.d. Gaussian noise in EAR units (landmark jitter), and
blinks at random spacing. A blink dips the EAR multiplicatively (depth relative to the local
open level) along an asymmetric raised cosine — closing faster than reopening — whose full
width at half depth is the blink's duration, sampled at a random sub-frame phase (so a 2-frame
blink's deepest frame can miss its nominal minimum, as real video does). `validate_detectors`
scores detector variants per (minimum EAR, duration, noise) cell: recall (a detection within
`tolerance` frames of a true blink's extent) and false blinks per minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np

from metrics.blink import detect_blinks, match_intervals

MINIMA = (0.10, 0.16, 0.22)  # EAR at the deepest point of a blink (full closure .. half blink)
DURATIONS = (2, 3, 5, 8)  # frames at 25 fps below half depth
NOISES = (0.005, 0.01, 0.02)  # EAR standard deviation per frame


@dataclass(frozen=True)
class TraceSpec:
    """Everything about the synthesised population except the cell (minimum, duration, noise)."""

    fps: float = 25.0
    clip_seconds: tuple[float, ...] = (3.0, 12.0)  # GRID-length and longer clips, alternately
    open_range: tuple[float, float] = (0.28, 0.35)
    drift_amplitude: tuple[float, float] = (0.0, 0.03)  # EAR, of a sinusoid ...
    drift_period_s: tuple[float, float] = (3.0, 15.0)  # ... this slow
    closing_fraction: tuple[float, float] = (0.3, 0.5)  # share of the blink's width spent closing
    mean_gap_s: float = 2.0  # exponential gap between blinks, after ...
    min_gap_s: float = 0.25  # ... this much open eye at least
    minimum_jitter: float = 0.01  # each blink's minimum EAR varies by +- this around its cell's


@dataclass
class Trace:
    ear: np.ndarray
    starts: np.ndarray  # first and last frame where each blink is at least 10% of its depth
    ends: np.ndarray
    fps: float

    @property
    def seconds(self) -> float:
        return self.ear.size / self.fps


def blink_shape(t: np.ndarray, centre: float, width: float, closing_fraction: float) -> np.ndarray:
    """0..1 closure at times t (frames): asymmetric raised cosine peaking at `centre`, full width at half depth `width`."""
    close, reopen = 2 * width * closing_fraction, 2 * width * (1 - closing_fraction)
    x = np.where(t < centre, (t - centre) / close, (t - centre) / reopen)
    return np.where(np.abs(x) < 1, 0.5 * (1 + np.cos(np.pi * x)), 0.0)


def synthesise_trace(
    rng: np.random.Generator,
    minimum: float,
    duration: float,
    noise: float,
    seconds: float,
    spec: TraceSpec = TraceSpec(),
) -> Trace:
    n = int(round(seconds * spec.fps))
    t = np.arange(n, dtype=np.float64)
    open_level = rng.uniform(*spec.open_range)
    drift = rng.uniform(*spec.drift_amplitude) * np.sin(
        2 * np.pi * t / (rng.uniform(*spec.drift_period_s) * spec.fps) + rng.uniform(0, 2 * np.pi)
    )
    level = open_level + drift
    closure = np.zeros(n)
    starts, ends = [], []
    cursor = rng.uniform(0, spec.mean_gap_s) * spec.fps
    while True:
        fraction = rng.uniform(*spec.closing_fraction)
        centre = cursor + 2 * duration * fraction
        end_of_blink = centre + 2 * duration * (1 - fraction)
        if end_of_blink >= n - 1:
            break
        depth = 1 - np.clip(minimum + rng.uniform(-spec.minimum_jitter, spec.minimum_jitter), 0.02, None) / open_level
        shape = blink_shape(t, centre, duration, fraction)
        closure = np.maximum(closure, depth * shape)
        present = np.nonzero(shape >= 0.1)[0]
        starts.append(int(present[0]))
        ends.append(int(present[-1]))
        cursor = end_of_blink + (spec.min_gap_s + rng.exponential(spec.mean_gap_s)) * spec.fps
    ear = level * (1 - closure) + rng.normal(0, noise, n)
    return Trace(ear, np.asarray(starts, np.int64), np.asarray(ends, np.int64), spec.fps)


@dataclass
class CellScore:
    blinks: int = 0
    detected: int = 0
    false: int = 0
    seconds: float = 0.0

    def add(self, other: "CellScore") -> None:
        self.blinks += other.blinks
        self.detected += other.detected
        self.false += other.false
        self.seconds += other.seconds

    @property
    def recall(self) -> float:
        return self.detected / self.blinks if self.blinks else float("nan")

    @property
    def false_per_minute(self) -> float:
        return 60 * self.false / self.seconds if self.seconds else float("nan")


@dataclass
class Validation:
    """Scores per detector variant and cell, and pooled over the whole synthesised range."""

    cells: dict[str, dict[tuple[float, int, float], CellScore]] = field(default_factory=dict)

    def overall(self, variant: str) -> CellScore:
        total = CellScore()
        for score in self.cells[variant].values():
            total.add(score)
        return total

    def marginal(self, variant: str, axis: int) -> dict[float, CellScore]:
        """Scores pooled over every cell sharing one coordinate (0 minimum, 1 duration, 2 noise)."""
        out: dict[float, CellScore] = {}
        for cell, score in self.cells[variant].items():
            out.setdefault(cell[axis], CellScore()).add(score)
        return out


def score_trace(trace: Trace, params: dict, tolerance: int) -> CellScore:
    found = detect_blinks(trace.ear, trace.fps, params).frames
    tp, fp, fn = match_intervals(found, trace.starts, trace.ends, tolerance)
    return CellScore(blinks=tp + fn, detected=tp, false=fp, seconds=trace.seconds)


def validate_detectors(
    variants: dict[str, dict],
    seed: int,
    clips_per_cell: int = 12,
    tolerance: int = 2,
    minima=MINIMA,
    durations=DURATIONS,
    noises=NOISES,
    spec: TraceSpec = TraceSpec(),
) -> Validation:
    """Every variant scores the same traces: one generator per (seed, cell), so cells and variants are comparable."""
    result = Validation({name: {} for name in variants})
    for index, cell in enumerate(product(minima, durations, noises)):
        rng = np.random.default_rng([seed, index])
        traces = [
            synthesise_trace(rng, cell[0], cell[1], cell[2], spec.clip_seconds[i % len(spec.clip_seconds)], spec)
            for i in range(clips_per_cell)
        ]
        for name, params in variants.items():
            score = CellScore()
            for trace in traces:
                score.add(score_trace(trace, params, tolerance))
            result.cells[name][cell] = score
    return result


TARGET_RECALL, TARGET_FALSE_PER_MINUTE = 0.9, 1.0


def meets_target(score: CellScore) -> bool:
    return score.recall >= TARGET_RECALL and score.false_per_minute <= TARGET_FALSE_PER_MINUTE


def render_validation(
    validation: Validation, seed: int, clips_per_cell: int, tolerance: int, spec: TraceSpec = TraceSpec()
) -> str:
    """Plain-text table: recall and false blinks per minute per cell, per marginal and overall, variants side by side."""
    variants = list(validation.cells)
    width = {v: max(13, len(v)) for v in variants}
    cells = lambda scores: "".join(
        f" | {f'{s.recall:6.3f} {s.false_per_minute:6.2f}':>{width[v]}s}" for v, s in scores.items()
    )
    head = "".join(f" | {v:>{width[v]}s}" for v in variants)
    sub = "".join(f" | {'recall FP/min':>{width[v]}s}" for v in variants)
    lines = [
        f"Blink detectors on synthesised EAR traces: seed {seed}, {clips_per_cell} clips per cell of "
        f"{' or '.join(f'{s:g}' for s in spec.clip_seconds)} s at {spec.fps:g} fps; open EAR {spec.open_range[0]:g}-"
        f"{spec.open_range[1]:g}, drift up to {spec.drift_amplitude[1]:g} over {spec.drift_period_s[0]:g}-"
        f"{spec.drift_period_s[1]:g} s periods, gaps >= {spec.min_gap_s:g} s + exponential (mean {spec.mean_gap_s:g} s).",
        f"Recall: a detection within {tolerance} frames of a true blink's extent; FP/min: detections matching no blink.",
        "",
        f"{'min EAR':>7s} {'frames':>6s} {'noise':>6s} {'blinks':>6s}{head}",
        f"{'':28s}{sub}",
    ]
    first = validation.cells[variants[0]]
    for cell in first:
        lines.append(
            f"{cell[0]:7.2f} {cell[1]:6d} {cell[2]:6.3f} {first[cell].blinks:6d}"
            + cells({v: validation.cells[v][cell] for v in variants})
        )
    for axis, label in ((0, "min EAR"), (1, "frames"), (2, "noise")):
        lines.append("")
        margins = {v: validation.marginal(v, axis) for v in variants}
        for key, score in margins[variants[0]].items():
            lines.append(
                f"{label + ' ' + format(key, 'g'):>21s} {score.blinks:6d}"
                + cells({v: margins[v][key] for v in variants})
            )
    lines.append("")
    overall = {v: validation.overall(v) for v in variants}
    lines.append(f"{'overall':>21s} {overall[variants[0]].blinks:6d}" + cells(overall))
    lines.append("")
    for v in variants:
        verdict = "meets" if meets_target(overall[v]) else "misses"
        lines.append(
            f"{v}: recall {overall[v].recall:.3f}, {overall[v].false_per_minute:.2f} false blinks/min over "
            f"{overall[v].seconds / 60:.1f} min: {verdict} the target (recall >= {TARGET_RECALL:g}, "
            f"<= {TARGET_FALSE_PER_MINUTE:g} false/min)"
        )
    return "\n".join(lines) + "\n"
