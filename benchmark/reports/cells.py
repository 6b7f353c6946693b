"""The one number formatter of every table cell; each output declares its precision.

The leaderboard shows 4 decimals (its values are compared run against run, often in the third
decimal), the paper tables 3 (as the papers print them, with a published value beside); both
show 2 from 10 up. The precision is a declared choice of the output, not a second formatter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MISSING = "—"


@dataclass(frozen=True)
class Precision:
    """How one output prints a number."""

    decimals: int  # below 10 in magnitude
    large_decimals: int = 2  # from 10 up
    small_digits: int | None = None  # below 0.01: this many significant digits instead (None: `decimals`)
    decibels_large: bool = False  # a value in dB always gets `large_decimals` (31.52 dB)
    integers_as_written: bool = False  # an int stays as written (a published 1024, not 1024.00)


LEADERBOARD = Precision(decimals=4, decibels_large=True)
PAPER_TABLES = Precision(decimals=3, small_digits=2, integers_as_written=True)


def format_number(value, precision: Precision, unit: str = "") -> str:
    """`value` as a cell shows it: "—" when there is none (or it is not finite), text as it is."""
    if value is None:
        return MISSING
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) and precision.integers_as_written:
        return str(value)
    if not math.isfinite(value):
        return MISSING
    size = abs(value)
    if size >= 10 or (precision.decibels_large and unit == "dB"):
        return f"{value:.{precision.large_decimals}f}"
    if precision.small_digits is not None and size < 0.01:
        return f"{value:.{precision.small_digits}g}"
    return f"{value:.{precision.decimals}f}"
