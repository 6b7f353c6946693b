"""Versioned split files (which speakers are held out), with their provenance written in them."""

from __future__ import annotations

import json
from pathlib import Path


def load_split(corpus: str, name: str) -> dict:
    path = Path(__file__).parent / corpus / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no split file {path}")
    return json.loads(path.read_text())
