"""The GRID corpus sentence grammar (Cooke et al. 2006) and its 6-character file codes."""

from __future__ import annotations

import numpy as np

COMMANDS = ("bin", "lay", "place", "set")
COLOURS = ("blue", "green", "red", "white")
PREPOSITIONS = ("at", "by", "in", "with")
LETTERS = tuple("abcdefghijklmnopqrstuvxyz")  # no "w"
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ADVERBS = ("again", "now", "please", "soon")


def sentence_code(words: tuple[str, ...]) -> str:
    """GRID file stem: first letter of each word, the letter itself, the digit as a number ("z" for zero)."""
    command, colour, prep, letter, digit, adverb = words
    digit_code = "z" if digit == "zero" else str(DIGITS.index(digit))
    return f"{command[0]}{colour[0]}{prep[0]}{letter}{digit_code}{adverb[0]}"


def sample_sentence(rng: np.random.Generator) -> tuple[str, ...]:
    return tuple(
        str(group[rng.integers(len(group))]) for group in (COMMANDS, COLOURS, PREPOSITIONS, LETTERS, DIGITS, ADVERBS)
    )


def spoken_text(words: tuple[str, ...]) -> str:
    """What the synthesiser reads: the letter slot spelled as its name's capital (espeak says "bee")."""
    command, colour, prep, letter, digit, adverb = words
    return f"{command} {colour} {prep} {letter.upper()} {digit} {adverb}"
