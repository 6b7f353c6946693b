"""What a metric sees for one clip, with face features computed once and shared.

LMD, blink rate and the bilabial check all need landmarks of the same two videos; the
context runs the detector once per video and backend. Reference landmarks are also cached
on disk beside the prepared protocol, so every model's run reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.types import Clip, Video
from metrics.backends.landmarks import LandmarkTrack, get_landmark_backend


@dataclass
class ClipContext:
    clip: Clip
    generated: Video
    reference: np.ndarray  # (T, H, W, 3) uint8 ground-truth frames
    cache_dir: Path | None = None  # where reference features persist between runs
    _memo: dict = field(default_factory=dict, repr=False)

    def landmarks(self, which: str, backend: str) -> LandmarkTrack:
        key = ("landmarks", which, backend)
        if key not in self._memo:
            self._memo[key] = self._reference_landmarks(backend) if which == "reference" else \
                get_landmark_backend(backend).detect(self.generated.frames)
        return self._memo[key]

    def annotations(self) -> dict[str, np.ndarray]:
        if "annotations" not in self._memo:
            self._memo["annotations"] = self.clip.load_annotations()
        return self._memo["annotations"]

    def _reference_landmarks(self, backend: str) -> LandmarkTrack:
        detector = get_landmark_backend(backend)
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / "landmarks" / detector.version() / f"{self.clip.id}-{self.clip.fingerprint[:16]}.npz"
            if path.is_file():
                with np.load(path) as data:
                    return LandmarkTrack(data["points"], data["found"], backend)
        track = detector.detect(self.reference)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, points=track.points, found=track.found)
            tmp.replace(path)
        return track
