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
    # a generator with its own native resolution (e.g. 1024²): the runner resizes its frames to the
    # reference size before scoring and records that it did
    resize_to_reference: bool = False


class Adapter(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities]

    def __init__(self, **config: Any):
        self.config = config
        self.device = "cpu"

    def bind_weights(self, root: Path) -> None:
        """Find every weight file under `root` or raise one BenchError listing all that are missing.

        Called before any work, so a run with missing weights stops at once. Reference adapters need none.
        """

    def native_size(self) -> tuple[int, int] | None:
        """(H, W) of the frames `generate` returns, when the model has a fixed resolution."""
        return None

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
