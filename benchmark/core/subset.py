"""`--limit N`: a seeded, speaker-stratified subset (never simply the first N clips)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from benchmark.core.types import Clip


def stratified_subset(clips: list[Clip], limit: int | None, seed: int) -> list[Clip]:
    """Round-robin over speakers (in a seeded order), each speaker's clips seeded-shuffled.

    Every speaker is represented before any speaker gets a second clip. The result keeps the
    protocol's clip order so runs with different limits line up.
    """
    if limit is None or limit >= len(clips):
        return list(clips)
    if limit <= 0:
        raise ValueError("--limit must be positive")
    rng = np.random.default_rng(seed)
    by_speaker: dict[str, list[Clip]] = defaultdict(list)
    for clip in clips:
        by_speaker[clip.speaker].append(clip)
    speakers = sorted(by_speaker)
    queues = {s: [by_speaker[s][i] for i in rng.permutation(len(by_speaker[s]))] for s in speakers}
    order = [speakers[i] for i in rng.permutation(len(speakers))]
    chosen: set[str] = set()
    while len(chosen) < limit:
        for speaker in order:
            if queues[speaker] and len(chosen) < limit:
                chosen.add(queues[speaker].pop(0).id)
    return [c for c in clips if c.id in chosen]
