"""Checks on a corpus's own files before a clip enters a protocol.

A silent or clipped recording, or an alignment that is empty or does not fit its audio, would
be scored as if it were fine; each is reported as a problem by name instead (the clip is left
out and the protocol recorded as partial). Pure functions on arrays and intervals, so each
threshold is tested on synthesised inputs.
"""

from __future__ import annotations

import math

import numpy as np

SILENCE_RMS_DBFS = -60.0  # RMS below this (dB re full scale) is a silent recording
FULL_SCALE = 0.999  # |sample| at or above this counts as at full scale
MAX_CLIPPED_FRACTION = 0.001  # more than 0.1% of samples at full scale is a clipped recording
ALIGN_END_MARGIN_S = 0.2  # an alignment may end this far (5 frames at 25 fps) past its audio, no more


def thresholds() -> dict:
    """The thresholds in force, recorded in a prepared protocol's manifest."""
    return {
        "silence_rms_dbfs": SILENCE_RMS_DBFS,
        "full_scale": FULL_SCALE,
        "max_clipped_fraction": MAX_CLIPPED_FRACTION,
        "align_end_margin_s": ALIGN_END_MARGIN_S,
    }


class SourceProblem(ValueError):
    """A source file unfit for the protocol; `kind` is a short category (e.g. "silent-audio")."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def rms_dbfs(audio: np.ndarray) -> float:
    """RMS level of float audio in [-1, 1], in dB re full scale (-inf for all zeros)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0
    return 20 * math.log10(rms) if rms > 0 else -math.inf


def check_audio(audio: np.ndarray) -> None:
    """Raise SourceProblem for silent or clipped float audio in [-1, 1]."""
    level = rms_dbfs(audio)
    if level < SILENCE_RMS_DBFS:
        raise SourceProblem("silent-audio", f"silent audio: RMS {level:.1f} dBFS is below {SILENCE_RMS_DBFS:g} dBFS")
    clipped = float(np.mean(np.abs(audio) >= FULL_SCALE))
    if clipped > MAX_CLIPPED_FRACTION:
        raise SourceProblem(
            "clipped-audio",
            f"clipped audio: {clipped:.2%} of samples at full scale "
            f"(|x| >= {FULL_SCALE}), more than {MAX_CLIPPED_FRACTION:.1%}",
        )


def check_timings(intervals, duration_s: float | None = None) -> None:
    """Raise SourceProblem unless (start s, end s, label) intervals are a usable alignment:
    at least one spoken (non-silence) label, times non-negative, no entry ending before it starts (zero-length pauses occur),
    no entry starting before the previous one ends, and (when the audio's duration is known) ending within
    ALIGN_END_MARGIN_S of it."""
    intervals = list(intervals)
    if not any(label not in ("sil", "sp", "_", "h#", "pau") for _, _, label in intervals):
        raise SourceProblem("empty-alignment", "empty alignment: no spoken words or phones")
    previous = -math.inf
    for k, (start, end, label) in enumerate(intervals, 1):
        if start < 0 or end < 0:
            raise SourceProblem(
                "malformed-alignment", f"malformed alignment: negative time in entry {k} ({label} {start:g}-{end:g} s)"
            )
        if end < start:
            raise SourceProblem(
                "malformed-alignment",
                f"malformed alignment: entry {k} ({label}) ends at {end:g} s, before its start {start:g} s",
            )
        if start < previous - 1e-6:
            raise SourceProblem(
                "malformed-alignment",
                f"malformed alignment: times go back at entry {k} ({label} starts "
                f"at {start:g} s, before the previous entry's end {previous:g} s)",
            )
        previous = end
    last = max(end for _, end, _ in intervals)
    if duration_s is not None and last > duration_s + ALIGN_END_MARGIN_S:
        raise SourceProblem(
            "malformed-alignment",
            f"malformed alignment: ends at {last:.2f} s, beyond the audio's "
            f"{duration_s:.2f} s by more than {ALIGN_END_MARGIN_S:g} s",
        )
