"""What a metric sees for one clip: features by name, each computed once and shared between metrics.

A metric asks `ctx.feature(name, which, **params)` ("which" is "generated" or "reference") and a
registered feature provider computes it (frames, audio, phones, landmarks, identity embeddings,
Inception, SyncNet, I3D features, ...; `FEATURES`, open to plugins through the entry-point group
talking_head_bench.features). The context keeps each (name, which, params) once per clip in memory,
so LMD, blink and the bilabial check run the landmark detector once per video. Reference features
are also cached on disk beside the prepared protocol, so every model's run reuses them: each cache
folder is named by what the provider says the features depend on (backend, parameters, weights
hash, device), with that key written beside them, so features computed under other settings are
never read back.
"""

from __future__ import annotations

import json
import os
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmark.core.hashing import sha256_json
from benchmark.core.registry import Registry
from benchmark.core.settings import Settings
from benchmark.core.types import Clip, Video
from benchmark.perception.base import LandmarkBackend
from benchmark.perception.registry import get_landmark_backend

SIDES = ("generated", "reference")


def cache_tag(key: dict) -> str:
    """Short, filesystem-safe name for a feature cache folder from what the features depend on."""
    return sha256_json(key)[:16]


class FeatureProvider(ABC):
    """Computes one named feature of one side of a clip. Stateless: the context memoizes and caches.

    `per_side` False: the feature is the clip's own (its audio, its phone timings), the same whichever
    side asks. `reference_cache` says where the ground truth's features persist on disk, or None."""

    name: ClassVar[str]
    per_side: ClassVar[bool] = True

    @abstractmethod
    def compute(self, ctx: ClipContext, which: str, **params: Any) -> Any:
        """The feature of `which` side's video (or of the clip, when not `per_side`)."""

    def reference_cache(self, ctx: ClipContext, **params: Any) -> tuple[str, dict] | None:
        """(cache folder, key): what the reference's features depend on (backend, parameters, weights
        hash, device); None keeps them in memory only."""
        return None

    def to_arrays(self, value: Any) -> dict[str, np.ndarray]:
        """The value as the named arrays of its cache file."""
        return {"features": value}

    def from_arrays(self, arrays: dict[str, np.ndarray], **params: Any) -> Any:
        """The value back from its cache file's arrays (`params`: those the feature was asked with)."""
        return arrays["features"]


FEATURES: Registry = Registry(
    "feature",
    "features",
    {
        "frames": "metrics.features:Frames",
        "audio": "metrics.features:Audio",
        "phones": "metrics.features:Phones",
        "landmarks": "metrics.features:Landmarks",
        "identity-embeddings": "metrics.features:IdentityEmbeddings",
        "inception": "metrics.features:InceptionFeatures",
        "pytorch-fid-inception": "metrics.features:PytorchFidInceptionFeatures",
        "syncnet": "metrics.lse:SyncNetFeatures",
        "i3d": "metrics.fvd:I3DFeatureWindows",
        "head-pose": "metrics.motion.features:HeadPoseFeature",
        "speech": "metrics.motion.features:Speech",
        "mouth-openness": "metrics.motion.features:MouthOpenness",
        "speech-envelope": "metrics.motion.features:SpeechEnvelope",
    },
    base="metrics.context:FeatureProvider",
    hint="`metrics.context.FEATURES.names()` lists them",
)


@dataclass
class ClipContext:
    clip: Clip
    generated: Video
    reference: np.ndarray  # (T, H, W, 3) uint8 ground-truth frames
    cache_dir: Path | None = None  # where reference features persist between runs
    settings: Settings | None = None  # device and weights folder of the backends (None: Settings.create())
    cache_misses: int = 0  # reference features computed (not found in the cache) for this clip
    _memo: dict = field(default_factory=dict, init=False, repr=False)  # this clip's features; only read here

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = Settings.create()

    def feature(self, name: str, which: str | None = None, **params: Any) -> Any:
        """The registered feature `name` of the generated or reference video, computed once per clip
        (per parameters); the reference's is read from the on-disk cache when the provider keeps one."""
        provider = FEATURES.get(name)()
        if not provider.per_side:
            which = None  # the clip's own: one value whichever side asks
        elif which not in SIDES:
            raise ValueError(f"feature {name!r}: which must be one of {SIDES}, got {which!r}")
        key = (name, which, json.dumps(params, sort_keys=True, default=str))
        if key not in self._memo:
            self._memo[key] = self._compute(provider, which, params)
        return self._memo[key]

    def _compute(self, provider: FeatureProvider, which: str | None, params: dict) -> Any:
        # the ground truth's features, and the clip's own (its VAD intervals), are the same for every model
        location = provider.reference_cache(self, **params) if which in ("reference", None) else None
        if location is None:
            return provider.compute(self, which, **params)
        folder = self.feature_folder(*location)
        arrays = self.cached(folder, lambda: provider.to_arrays(provider.compute(self, which, **params)))
        return provider.from_arrays(arrays, **params)

    def landmark_backend(self, backend: str) -> LandmarkBackend:
        return get_landmark_backend(backend, self.settings.device, self.settings.weights_dir)

    def feature_folder(self, kind: str, key: dict) -> tuple[str, str]:
        """(kind, short hash of `key`): the cache folder, with the key written beside the features for humans."""
        if self.cache_dir is not None:
            described_folder(self.cache_dir, kind, key)
        return kind, cache_tag(key)

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


def described_folder(cache_dir: Path, kind: str, key: dict) -> Path:
    """`cache_dir/kind/<short hash of key>`, with the key written in it as key.json for humans (once,
    atomically; a read-only or full data folder is not an error: the key is only a description)."""
    folder = Path(cache_dir) / kind / cache_tag(key)
    described = folder / "key.json"
    if not described.is_file():
        tmp = described.with_name(f"key.{os.getpid()}.tmp")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(key, indent=1, sort_keys=True) + "\n")
            tmp.replace(described)
        except OSError:
            _remove_quietly(tmp)
    return folder


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def keeps_reference_cache(provider: type[FeatureProvider]) -> bool:
    """Whether the provider persists the ground truth's features on disk (overrides `reference_cache`)."""
    return provider.reference_cache is not FeatureProvider.reference_cache


@dataclass
class GroundTruthContext(ClipContext):
    """A clip whose generated side is its own ground truth, for computing the ground truth's features
    ahead of any run (benchmark.engine.reference_pass): every feature either side asks for is the
    reference's, so a metric scoring the clip against itself fills the on-disk cache exactly as a run
    would, computing each feature once."""

    def feature(self, name: str, which: str | None = None, **params: Any) -> Any:
        return super().feature(name, "reference" if which == "generated" else which, **params)
