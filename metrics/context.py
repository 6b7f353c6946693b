"""What a metric sees for one clip, with face features computed once and shared.

LMD, blink rate and the bilabial check all need landmarks of the same two videos; the
context runs the detector once per video and backend. Reference landmarks are also cached
on disk beside the prepared protocol, so every model's run reuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.fingerprint import sha256_bytes
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

    def inception_features(self, which: str, device: str = "cpu") -> np.ndarray:
        """(T, 2048) pool3 features; the reference's are cached on disk per weights."""
        from metrics.backends.inception import inception_features, weights_provenance

        key = ("inception", which)
        if key not in self._memo:
            if which == "generated":
                self._memo[key] = inception_features(self.generated.frames, device)
            else:
                tag = sha256_bytes(weights_provenance().encode())[:12]
                self._memo[key] = self.cached(("inception", tag), lambda: {"features": inception_features(self.reference, device)})["features"]
        return self._memo[key]

    def cached(self, folder: tuple[str, ...], compute) -> dict[str, np.ndarray]:
        """Reference features in the protocol's feature cache, keyed by clip content."""
        if self.cache_dir is None:
            return compute()
        path = self.cache_dir.joinpath(*folder) / f"{self.clip.id}-{self.clip.fingerprint[:16]}.npz"
        if path.is_file():
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        arrays = compute()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(path)
        return arrays

    def annotations(self) -> dict[str, np.ndarray]:
        if "annotations" not in self._memo:
            self._memo["annotations"] = self.clip.load_annotations()
        return self._memo["annotations"]

    def _reference_landmarks(self, backend: str) -> LandmarkTrack:
        detector = get_landmark_backend(backend)

        def detect():
            track = detector.detect(self.reference)
            return {"points": track.points, "found": track.found}

        arrays = self.cached(("landmarks", detector.version()), detect)
        return LandmarkTrack(arrays["points"], arrays["found"], backend)
