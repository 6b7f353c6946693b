"""The one interface every model sits behind: audio + identity image in, frames out."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable

from benchmark.core.version import __version__
from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_bytes, sha256_json
from benchmark.core.types import Clip, GenerationRequest, Video


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


def refuse_unknown_args(adapter: str, config: dict, accepted: Iterable[str]) -> None:
    """A misspelt --model-args key must stop the run: ignored, it would only change the fingerprint."""
    accepted = sorted(accepted)
    unknown = sorted(set(config) - set(accepted))
    if unknown:
        listed = f"it accepts {', '.join(accepted)}" if accepted else "it accepts none"
        raise BenchError(
            f"{adapter}: unknown option {unknown[0]!r} in --model-args ({listed})",
            hint="correct its spelling, or leave it out" if accepted else "drop --model-args",
        )


class Adapter(ABC):
    name: ClassVar[str]
    description: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities]
    external: ClassVar[bool] = (
        False  # frames made elsewhere (folder, command): the adapter name says nothing about the model
    )
    # the --model-args keys the adapter takes; None: it checks its own (plugins written before this existed)
    accepted_args: ClassVar[tuple[str, ...] | None] = None
    # whether the frames depend on this process's torch thread count (CPU kernels round differently
    # with another one): then the count is part of the run's identity. A model running torch in
    # process does; frames read from files, copied or made in another process do not.
    frames_depend_on_threads: ClassVar[bool] = True

    def __init__(self, **config: Any):
        if self.accepted_args is not None:
            refuse_unknown_args(self.name, config, self.accepted_args)
        self.config = config
        self.device = "cpu"
        self.weights_dir: Path | None = None  # Settings.weights_dir, from bind_weights

    def bind_weights(self, root: Path) -> None:
        """Find every weight file under `root` or raise one BenchError listing all that are missing.

        Called before any work, so a run with missing weights stops at once. Reference adapters need none.
        Perception backends the adapter runs (face boxes) read their files from the same folder.
        """
        self.weights_dir = Path(root)

    def perception(self) -> dict[str, str]:
        """Role -> version of each perception backend (face detector, landmarks) the adapter runs itself.

        Their output shapes the frames (e.g. where a mouth is pasted), so a new detector version must
        change the fingerprint and never reuse scores made with the old one.
        """
        return {}

    def landmark_backend(self, name: str):
        """A landmark backend from the shared keyed factory, on this adapter's device and weights folder."""
        from benchmark.perception.registry import get_landmark_backend

        return get_landmark_backend(name, self.device, self.weights_dir)

    def native_size(self) -> tuple[int, int] | None:
        """(H, W) of the frames `generate` returns, when the model has a fixed resolution."""
        return None

    def setup(self, device: str) -> None:
        """Load weights and move to `device`; called once before the first `generate`."""
        self.device = device

    @abstractmethod
    def generate(self, request: GenerationRequest, seed: int) -> Video:
        """Frames for `request` at request.fps, request.n_frames long, of the declared size."""

    def clip_input(self, clip) -> dict | None:
        """Content of a per-clip file the adapter reads (the folder's video), or None when it reads none.

        It goes into that clip's row key and row: replacing one file re-scores that clip only, and the
        adapter's fingerprint never depends on reading every file up front.
        """
        return None

    def weights(self) -> dict[str, str]:
        """File name -> sha256 of every weight file the adapter loads (none for reference adapters)."""
        return {}

    def parameter_counts(self) -> dict[str, int]:
        """Network name -> number of parameters it runs in this process (`bench profile`); none by default
        (reference adapters, and models run elsewhere: folder, command)."""
        return {}

    def inspect_clip(self, clip: Clip) -> dict | None:
        """Check the file the model wrote for `clip` before the run, as scoring will read it, scoring
        nothing (`bench validate`): {"clip_id", "file", "status": ok | conformed | failed, "conformed",
        "problem"}. None (the default): the adapter reads no such file, there is nothing to check."""
        return None

    def code_version(self) -> str:
        """Package version + hash of the adapter's source: editing the adapter invalidates cached results."""
        source = Path(inspect.getfile(type(self))).read_bytes()
        return f"{__version__}+{sha256_bytes(source)[:12]}"

    def fingerprint(self) -> str:
        parts = {"name": self.name, "code": self.code_version(), "config": self.config, "weights": self.weights()}
        perception = self.perception()
        if perception:  # only adapters that run a detector: the others keep the fingerprints of their past runs
            parts["perception"] = perception
        return sha256_json(parts)

    def warnings(self) -> list[str]:
        """Things the user should know before the run starts (e.g. an unversioned external model)."""
        return []

    def default_label(self) -> str:
        """The run label when `bench run` gets no --name: the adapter's name, which names a model here."""
        return self.name

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": self.config,
            "code_version": self.code_version(),
            "weights": self.weights(),
            "perception": self.perception(),
            "capabilities": asdict(self.capabilities),
            "frames_depend_on_threads": self.frames_depend_on_threads,
            "fingerprint": self.fingerprint(),
        }
