"""The one ranking rule behind every "best" a report prints (leaderboard, paper and results tables).

A mark must mean something, so a column is ranked only when:
- at least two models (not ground truth or still, not incomplete runs, not partial coverage:
  the caller says which entries may be ranked) have a value in it, all on the same protocol;
- the metric declares a direction (its spec's `direction`): higher or lower is better, or
  `closest-to-ground-truth`, where the winner is the value nearest the ground truth's on the same
  protocol (CPBD: a blurrier- or sharper-than-real video is not better; blink rate). Such a column
  needs the ground truth's value: the metric's own, recorded beside each run's value
  (`reference_value`), or the ground-truth run's on the same protocol. Without one it is not
  ranked, and `Ranking.note` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Iterable

HIGHER, LOWER, CLOSEST, NONE = "higher", "lower", "closest-to-ground-truth", "none"
RANKED_DIRECTIONS = (HIGHER, LOWER, CLOSEST)
ARROWS = {HIGHER: "↑", LOWER: "↓", CLOSEST: "→GT"}  # →GT: nearest the ground truth's value wins
MEANING = {
    HIGHER: "higher is better",
    LOWER: "lower is better",
    CLOSEST: "closest to the ground truth's value is best",
    NONE: "no better direction",
}
MIN_RANKED = 2  # a lone model is not "best" of anything


@dataclass(frozen=True)
class Entry:
    """One candidate value of a column: `key` is the caller's handle (a table row, a cell)."""

    key: Hashable
    value: float | None
    rankable: bool = True  # False: a reference row, an incomplete run, a value on part of the clips
    target: float | None = (
        None  # the ground-truth value this entry is measured against (`reference_value`; closest-to-ground-truth)
    )


@dataclass
class Ranking:
    """Place per ranked key (1 = best; ties share a place), and why the column is not ranked (or how it is)."""

    places: dict[Hashable, int] = field(default_factory=dict)
    note: str = ""
    scores: dict[Hashable, float] = field(default_factory=dict)  # what was compared (a distance for CLOSEST)

    def mark(self, key: Hashable, second: bool = True) -> str:
        place = self.places.get(key)
        return "best" if place == 1 else "second" if second and place == 2 else ""


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def score(direction: str, value: float, target: float | None) -> float | None:
    """Smaller is better: the value, its negation, or its distance to the ground truth's value."""
    if direction == HIGHER:
        return -value
    if direction == LOWER:
        return value
    if direction == CLOSEST and target is not None:
        return abs(value - target)
    return None


def rank(
    entries: Iterable[Entry], direction: str | None, column_target: float | None = None, what: str = "this column"
) -> Ranking:
    """Places among the rankable entries; `column_target` is the ground truth's value for entries without their own."""
    entries = [e for e in entries if e.rankable and _number(e.value) is not None]
    if direction not in RANKED_DIRECTIONS:
        return Ranking(note=f"{what} is not ranked: {MEANING.get(direction or NONE, 'no better direction')}")
    scores = {}
    for e in entries:
        target = _number(e.target) if e.target is not None else _number(column_target)
        s = score(direction, float(e.value), target)
        if s is not None:
            scores[e.key] = s
    if direction == CLOSEST and entries and not scores:
        return Ranking(
            note=f"{what} is not ranked: closest to the ground truth's value wins, and there is no ground-truth "
            f"value on this protocol (run `bench run --model ground-truth` on it with this metric)"
        )
    if len(scores) < MIN_RANKED:
        return Ranking(
            note=f"{what} is not ranked: fewer than {MIN_RANKED} models with a value to compare", scores=scores
        )
    distinct = sorted(set(scores.values()))
    places = {key: distinct.index(s) + 1 for key, s in scores.items()}
    note = f"{what} is ranked by distance to the ground truth's value (closest is best)" if direction == CLOSEST else ""
    return Ranking(places, note, scores)


def sort_key(direction: str | None, value, target: float | None = None) -> tuple:
    """Order rows by a metric, best first, rows without a value (or a ground-truth value) last."""
    number = _number(value)
    s = score(direction or NONE, number, _number(target)) if number is not None else None
    if s is None and number is not None and direction not in RANKED_DIRECTIONS:
        s = number  # no better direction: ascending, so the order is at least stable and readable
    return (s is None, s if s is not None else 0.0)
