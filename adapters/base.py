"""The one interface every model sits behind: audio + identity image in, frames out."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import benchmark
from benchmark.fingerprint import sha256_bytes, sha256_json
from benchmark.types import GenerationRequest, Video


@dataclass(frozen=True)
class Capabilities:
    uses_audio: bool
    uses_identity: bool
    uses_reference_frames: bool  # reference adapters only: they see the ground truth
    output_size: tuple[int, int] | None = None  # None: the clip's own size
    deterministic: bool = True


class Adapter(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities]

    def __init__(self, **config: Any):
        self.config = config
        self.device = "cpu"

    def setup(self, device: str) -> None:
        """Load weights and move to `device`; called once before the first `generate`."""
        self.device = device

    @abstractmethod
    def generate(self, request: GenerationRequest, seed: int) -> Video:
        """Frames for `request` at request.fps, request.n_frames long, of the declared size."""

    def weights(self) -> dict[str, str]:
        """File name -> sha256 of every weight file the adapter loads (none for reference adapters)."""
        return {}

    def code_version(self) -> str:
        """Package version + hash of the adapter's source: editing the adapter invalidates cached results."""
        source = Path(inspect.getfile(type(self))).read_bytes()
        return f"{benchmark.__version__}+{sha256_bytes(source)[:12]}"

    def fingerprint(self) -> str:
        return sha256_json({"name": self.name, "code": self.code_version(), "config": self.config, "weights": self.weights()})

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": self.config,
            "code_version": self.code_version(),
            "weights": self.weights(),
            "capabilities": asdict(self.capabilities),
            "fingerprint": self.fingerprint(),
        }
