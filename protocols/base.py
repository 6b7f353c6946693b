"""A protocol = a dataset split, prepared a fixed way, behind one interface.

Only the protocol layer knows a corpus: the runner sees `Clip`s and a fingerprint.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path

from benchmark.errors import DatasetNotPreparedError
from benchmark.fingerprint import sha256_json
from benchmark.types import Clip


class Protocol(ABC):
    name: str  # registry name, e.g. "mini" or "grid"
    version: str
    description: str = ""
    builds_itself: bool = False  # True: `bench run` may prepare it on first use (needs no source data)

    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"

    @abstractmethod
    def clips(self) -> list[Clip]:
        """All clips of the split; raises DatasetNotPreparedError when the data is not on disk."""

    def fingerprint(self, clips: list[Clip] | None = None) -> str:
        """Hash of the clip list and each clip's content: two runs with equal fingerprints saw the same data."""
        clips = self.clips() if clips is None else clips
        return sha256_json([[c.id, c.fingerprint] for c in clips])


class ManifestProtocol(Protocol):
    """A protocol whose prepared data is a folder with a manifest.json listing its clips."""

    @property
    def prepared_dir(self) -> Path:
        return self.data_root / self.name / self.version

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"{self.name} is not prepared: no {self.prepared_dir / 'manifest.json'}",
            hint=f"run `bench prepare {self.name}`",
        )

    def manifest(self) -> dict:
        path = self.prepared_dir / "manifest.json"
        if not path.is_file():
            raise self.not_prepared_error()
        return json.loads(path.read_text())

    def clips(self) -> list[Clip]:
        manifest = self.manifest()
        root = self.prepared_dir
        h, w = manifest["size"]
        return [
            Clip(
                id=c["id"],
                speaker=c["speaker"],
                protocol=self.id,
                n_frames=int(c["n_frames"]),
                fps=float(manifest["fps"]),
                size=(int(h), int(w)),
                sample_rate=int(manifest["sample_rate"]),
                video_path=root / c["files"]["video"],
                audio_path=root / c["files"]["audio"],
                identity_path=root / c["files"]["identity"],
                annotations_path=root / c["files"]["annotations"] if c["files"].get("annotations") else None,
                fingerprint=c["fingerprint"],
            )
            for c in manifest["clips"]
        ]
