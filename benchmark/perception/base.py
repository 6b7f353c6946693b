"""What every perception backend is, and what the backends share.

A backend says what it is (`version`), where it computes (`device`) and what its outputs depend
on (`cache_key`, which names on-disk feature caches). Landmark backends return iBUG-68 tracks;
identity embedders turn landmark-aligned face chips into vectors; networks (Inception, SyncNet,
I3D, LPIPS) are the other torch models the metrics run. Backends are built by name through
benchmark.perception.registry, one shared instance per name, device and weights folder, never by
importing each other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import ClassVar

import numpy as np

from benchmark.core.errors import BenchError


@dataclass
class LandmarkTrack:
    """Per-frame iBUG-68 points in pixels (x, y; pixel centres at integers); NaN where no face.

    Always float64: geometry on float32 points (EAR, apertures) loses ~1e-7 relative, more than
    the 1e-9 the calibration table claims."""

    points: np.ndarray  # (T, 68, 2) float64
    found: np.ndarray  # (T,) bool
    backend: str
    # (T, 31, 3) the face mesh's rigid points (head_pose.MESH_RIGID_IDS: x, y in pixels, depth on x's
    # scale), kept by mesh backends (mediapipe) for the head pose; None for the others
    rigid_mesh: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.points = np.asarray(self.points, dtype=np.float64)
        self.found = np.asarray(self.found, dtype=bool)
        if self.rigid_mesh is not None:
            self.rigid_mesh = np.asarray(self.rigid_mesh, dtype=np.float64)

    @property
    def coverage(self) -> float:
        return float(self.found.mean()) if self.found.size else 0.0


class PerceptionBackend(ABC):
    name: ClassVar[str]
    # True: reads a user weight file from the weights folder and runs on the settings' torch device;
    # built as cls(weights_dir, device). False: reads no user file, built as cls() and shared,
    # or as cls(device) when `follows_device` (a torch network shipped with a package).
    reads_weights: ClassVar[bool] = False
    follows_device: ClassVar[bool] = False
    device: str = "cpu"  # where it computes; mediapipe and dlib run on the CPU whatever the settings say
    weights_sha256: str | None = None  # of the user weight file, for backends that read one

    @classmethod
    def build(cls, device: str, weights_dir: Path | None) -> "PerceptionBackend":
        if cls.reads_weights:
            return cls(weights_dir, device)
        return cls(device) if cls.follows_device else cls()

    def version(self) -> str:
        return self.name

    def cache_key(self) -> dict[str, str | None]:
        """What cached features computed by this backend depend on (names the on-disk cache folder)."""
        return {"backend": self.version(), "weights": self.weights_sha256, "device": str(self.device)}


class LandmarkBackend(PerceptionBackend):
    # True: its tracks also keep the face mesh's rigid points (`LandmarkTrack.rigid_mesh`), which the head
    # pose is fitted to; its cached tracks say so in their key (caches from before it kept them are stale)
    keeps_rigid_mesh: ClassVar[bool] = False

    def points_key(self) -> dict[str, str | None]:
        """What its iBUG-68 points depend on: the key of features computed from them (ACD's embeddings)."""
        # cached points written as float32 before tracks became float64 must not be reused
        return {**super().cache_key(), "points": "float64"}

    def cache_key(self) -> dict[str, str | None]:
        """The key of its cached tracks: the points' key, and the mesh points where it keeps them."""
        return {**self.points_key(), **({"rigid_mesh": "31 points, x y depth"} if self.keeps_rigid_mesh else {})}

    @abstractmethod
    def detect(self, frames: np.ndarray) -> LandmarkTrack:
        """(T, H, W, 3) uint8 RGB -> LandmarkTrack."""


class Network(PerceptionBackend):
    """A torch network on a weight file from the weights folder, on the settings' device.

    `version()` is the backend string records carry (it names the weights' sha256), so a network
    loaded from other weights is another column; each network has its own call (features, distances)."""

    reads_weights = True


class Embedder(PerceptionBackend):
    @abstractmethod
    def embed(self, frames: np.ndarray, points: np.ndarray, found: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) frames + (T, 68, 2) landmarks -> (T, D); NaN rows where no face was found."""


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "missing"


def dlib_model_path(filename: str) -> Path:
    """Locate a model file of face_recognition_models without importing it (its import needs pkg_resources)."""
    from importlib.util import find_spec

    spec = find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise BenchError(
            f"dlib backends need {filename} from face_recognition_models",
            hint="pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / filename
    if not path.is_file():
        raise BenchError(f"{path} is missing", hint="reinstall face_recognition_models==0.3.0")
    return path
