"""Frames in memory: the one type the media readers, the adapters and the metrics all pass around.

It imports nothing from the project, so benchmark.core.media (which makes Videos) and benchmark.core.types
(whose Clip reads them through benchmark.core.media) both build on it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Video:
    """Generated or reference frames: (T, H, W, 3) uint8 RGB at `fps`."""

    frames: np.ndarray
    fps: float
    # what was done to fit an external model's file to its clip (resized, fps_resampled, length);
    # None when nothing was: the worker copies it into the clip's row
    conformed: dict | None = None

    def __post_init__(self) -> None:
        f = self.frames
        if f.ndim != 4 or f.shape[-1] != 3 or f.dtype != np.uint8:
            raise ValueError(f"frames must be (T, H, W, 3) uint8, got {f.shape} {f.dtype}")

    @property
    def n_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.frames.shape[1]), int(self.frames.shape[2])
