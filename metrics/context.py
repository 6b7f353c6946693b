"""What a metric sees for one clip, with face features computed once and shared.

LMD, blink rate and the bilabial check all need landmarks of the same two videos; the
context runs the detector once per video and backend. Reference features are also cached
on disk beside the prepared protocol, so every model's run reuses them: each cache folder is
named by what the features depend on (backend version, weights hash, device), so features
computed under other settings are never read back.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.core.hashing import sha256_json
from benchmark.perception.base import LandmarkBackend, LandmarkTrack
from benchmark.perception.registry import get_landmark_backend
from benchmark.core.settings import Settings
from benchmark.core.types import Clip, Video


def cache_tag(key: dict) -> str:
    """Short, filesystem-safe name for a feature cache folder from what the features depend on."""
    return sha256_json(key)[:16]


@dataclass
class ClipContext:
    clip: Clip
    generated: Video
    reference: np.ndarray  # (T, H, W, 3) uint8 ground-truth frames
    cache_dir: Path | None = None  # where reference features persist between runs
    settings: Settings | None = None  # device and weights folder of the backends (None: Settings.create())
    _memo: dict = field(default_factory=dict, repr=False)
    cache_misses: int = 0  # reference features computed (not found in the cache) for this clip

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = Settings.create()

    def landmark_backend(self, backend: str) -> LandmarkBackend:
        return get_landmark_backend(backend, self.settings.device, self.settings.weights_dir)

    def landmarks(self, which: str, backend: str) -> LandmarkTrack:
        key = ("landmarks", which, backend)
        if key not in self._memo:
            self._memo[key] = self._reference_landmarks(backend) if which == "reference" else \
                self.landmark_backend(backend).detect(self.generated.frames)
        return self._memo[key]

    def inception_features(self, which: str) -> np.ndarray:
        """(T, 2048) pool3 features; the reference's are cached on disk per weights and device."""
        from benchmark.perception.inception import BACKEND, inception_features, load_inception

        key = ("inception", which)
        if key not in self._memo:
            device, weights = self.settings.device, self.settings.weights_dir
            if which == "generated":
                self._memo[key] = inception_features(self.generated.frames, device, weights)
            else:
                provenance = load_inception(device, weights)[1]
                folder = self.feature_folder("inception", {"backend": BACKEND, "weights": provenance,
                                                           "device": str(device)})
                self._memo[key] = self.cached(folder, lambda: {
                    "features": inception_features(self.reference, device, weights)})["features"]
        return self._memo[key]

    def feature_folder(self, kind: str, key: dict) -> tuple[str, str]:
        """(kind, short hash of `key`): the cache folder, with the key written beside the features for humans."""
        folder = (kind, cache_tag(key))
        if self.cache_dir is not None:
            described = self.cache_dir.joinpath(*folder) / "key.json"
            if not described.is_file():
                tmp = described.with_name(f"key.{os.getpid()}.tmp")
                try:  # for humans only: a read-only or full data folder must not fail the metric
                    described.parent.mkdir(parents=True, exist_ok=True)
                    tmp.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
                    tmp.replace(described)
                except OSError:
                    _remove_quietly(tmp)
        return folder

    def cached(self, folder: tuple[str, ...], compute) -> dict[str, np.ndarray]:
        """Reference features in the protocol's feature cache, keyed by clip content."""
        if self.cache_dir is None:
            return compute()
        path = self.cache_dir.joinpath(*folder) / f"{self.clip.id}-{self.clip.fingerprint[:16]}.npz"
        if path.is_file():
            with np.load(path) as data:
                return {k: data[k] for k in data.files}
        arrays = compute()
        self.cache_misses += 1
        # unique temporary name: another run (a shard, another model) may be caching the same clip
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp.npz")
        try:  # a cache: a read-only or full data folder costs speed, never the clip's score
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, **arrays)
            tmp.replace(path)
        except OSError:
            pass
        finally:
            _remove_quietly(tmp)
        return arrays

    def annotations(self) -> dict[str, np.ndarray]:
        if "annotations" not in self._memo:
            self._memo["annotations"] = self.clip.load_annotations()
        return self._memo["annotations"]

    def _reference_landmarks(self, backend: str) -> LandmarkTrack:
        detector = self.landmark_backend(backend)

        def detect():
            track = detector.detect(self.reference)
            return {"points": track.points, "found": track.found}

        arrays = self.cached(self.feature_folder("landmarks", detector.cache_key()), detect)
        return LandmarkTrack(arrays["points"], arrays["found"], backend)


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass
