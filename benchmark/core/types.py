"""The small typed records that flow protocol -> adapter -> metrics -> run record."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.core.media import read_image, read_video, read_wav
from benchmark.core.video import Video  # noqa: F401  (re-exported: `from benchmark.core.types import Video` keeps working)

Direction = Literal["higher", "lower", "closest-to-ground-truth", "none"]
# closest-to-ground-truth: the value nearest the ground truth's wins (sharpness, blink rate); none: not ranked
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
SAFE_ID_RULE = "letters, digits, . _ + - only; no path separators or '..'"


def is_safe_clip_id(clip_id) -> bool:
    """One safe path component: clip ids (and speakers) become file and folder names."""
    return isinstance(clip_id, str) and bool(_SAFE_ID.fullmatch(clip_id)) and ".." not in clip_id


def check_clip_id(clip_id: str, where: str = "") -> str:
    """Refuse a clip id that is not one safe path component (prepared clips, export packs,
    artifacts and kept videos are named by it). Protocols check every id as they load their clip
    list, so no command ever sees a bad one."""
    if not is_safe_clip_id(clip_id):
        raise BenchError(
            f"{where + ': ' if where else ''}clip id {clip_id!r} is not a safe file name ({SAFE_ID_RULE})",
            hint="rename the clip in the protocol's manifest",
        )
    return clip_id


@dataclass(frozen=True)
class PhoneEvent:
    """A phone interval in seconds (e.g. a bilabial /p b m/ closure the mouth must show)."""

    phone: str
    start: float
    end: float


@dataclass(frozen=True)
class Clip:
    """One test item of a protocol. Media stay on disk until a stage asks for them."""

    id: str
    speaker: str
    protocol: str
    n_frames: int
    fps: float
    size: tuple[int, int]  # (height, width) of the ground-truth frames
    sample_rate: int
    video_path: Path
    audio_path: Path
    identity_path: Path
    fingerprint: str  # sha256 over the clip's files: changes when any of them does
    annotations_path: Path | None = None

    def load_frames(self) -> np.ndarray:
        """The ground-truth frames; a file far longer than the manifest says is refused before it fills memory."""
        return read_video(self.video_path, n_frames=self.n_frames, size=self.size).frames

    def load_audio(self) -> np.ndarray:
        audio, rate = read_wav(self.audio_path)
        if rate != self.sample_rate:
            raise ValueError(f"{self.audio_path}: expected {self.sample_rate} Hz audio, found {rate} Hz")
        return audio

    def load_identity(self) -> np.ndarray:
        return read_image(self.identity_path)

    def load_annotations(self) -> dict[str, np.ndarray]:
        if self.annotations_path is None:
            return {}
        with np.load(self.annotations_path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


@dataclass(frozen=True)
class GenerationRequest:
    """What a model gets: speech, one identity image, and the length/rate/size to produce.

    `clip` is there for reference adapters (ground truth, folder); a generative model must use
    only `audio` and `identity`.
    """

    clip: Clip
    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    identity: np.ndarray  # (H, W, 3) uint8 RGB
    n_frames: int
    fps: float
    size: tuple[int, int]

    @classmethod
    def for_clip(cls, clip: Clip, n_frames: int | None = None) -> "GenerationRequest":
        """The request for `clip` (its audio and identity loaded), optionally cut to the first `n_frames`."""
        return cls(
            clip=clip,
            audio=clip.load_audio(),
            sample_rate=clip.sample_rate,
            identity=clip.load_identity(),
            n_frames=min(n_frames or clip.n_frames, clip.n_frames),
            fps=clip.fps,
            size=clip.size,
        )


@dataclass(frozen=True)
class MetricSpec:
    """Everything needed to know which number a metric produced."""

    name: str  # registry name, e.g. "ssim"
    variant: str  # the convention, e.g. "ssim-gauss11" ; equals name for the default
    direction: Direction
    params: dict[str, Any] = field(default_factory=dict)
    backend: str = "torch"
    unit: str = ""
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "variant": self.variant,
            "direction": self.direction,
            "params": dict(self.params),
            "backend": self.backend,
            "unit": self.unit,
        }
