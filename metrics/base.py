"""The interface every metric shares.

A metric scores one clip at a time (`update` returns that clip's value and folds it into a
mergeable state), declares whether higher or lower is better, and names its variant and
parameters so every number it produces can be traced back to an exact convention.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.core.errors import ClipError
from benchmark.core.settings import Settings
from benchmark.core.stats import MeanState
from benchmark.core.types import Direction, MetricSpec
from metrics.context import ClipContext


@dataclass
class ClipValue:
    """One clip's score, its contribution to a pooled aggregate (counts that add across clips,
    e.g. blinks and seconds), and per-clip diagnostics (e.g. frames at the PSNR cap)."""

    value: float | None
    pooled: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, np.ndarray] = field(default_factory=dict)  # large per-clip arrays kept beside the run


class Metric(ABC):
    name: ClassVar[str]
    direction: ClassVar[Direction]
    unit: ClassVar[str] = ""
    description: ClassVar[str] = ""
    backend: ClassVar[str] = "torch"
    default_params: ClassVar[dict[str, Any]] = {}
    # variant name -> parameter overrides; the default variant is called `name`
    variants: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, variant: str | None = None, settings: Settings | None = None, **overrides: Any):
        """`settings` gives the device, the weights folder and the backend choices (None: Settings.create(),
        for tests and the Python API); explicit `overrides` win over everything."""
        variant = variant or self.name
        if variant != self.name and variant not in self.variants:
            raise ValueError(f"metric {self.name} has no variant {variant!r}; known: {[self.name, *self.variants]}")
        self.variant = variant
        self.settings = settings if settings is not None else Settings.create()
        self.params = {**self.default_params, **self.variants.get(variant, {}), **self.settings_params(), **overrides}
        self.device = torch.device(self.settings.device)
        self.state = self.new_state()

    def settings_params(self) -> dict[str, Any]:
        """The backend choices of the settings this metric has a parameter for (a None choice keeps the default)."""
        chosen = {"landmarks": self.settings.landmarks, "embedder": self.settings.embedder}
        return {k: v for k, v in chosen.items() if v is not None and k in self.default_params}

    def check(self) -> None:
        """Raise a BenchError now (before any clip is processed) if something the metric needs is missing."""

    def too_few(self, frame_counts: list[int]) -> str | None:
        """Why this metric can give no value over clips of these frame counts, known before any work (or None).

        A metric pooled over the whole set (FID) needs enough samples; saying so up front spares
        generating and featurising every clip for a number that cannot come."""
        return None

    def backend_id(self) -> str:
        """The backend that produced the numbers, as recorded (e.g. a landmark detector's version)."""
        return self.backend

    @property
    def spec(self) -> MetricSpec:
        return MetricSpec(self.name, self.variant, self.direction, dict(self.params), self.backend_id(), self.unit,
                          self.description)

    @abstractmethod
    def score_clip(self, ctx: ClipContext) -> ClipValue:
        """Score one clip (generated vs reference frames, with shared cached features)."""

    def new_state(self):
        """The mergeable aggregate: the mean over clips unless a metric pools (sums) across clips."""
        return MeanState()

    def update(self, ctx: ClipContext) -> ClipValue:
        self.require_same_settings(ctx)
        result = self.score_clip(ctx)
        self.state.add(result.value, result.pooled, result.artifacts or None)
        return result

    def require_same_settings(self, ctx: ClipContext) -> None:
        """The context computes shared features (landmarks, Inception) for every metric: it must use the
        device and weights folder this metric records, or its backend id would describe other numbers."""
        mine, theirs = self.settings, ctx.settings
        if (mine.device, mine.weights_dir) != (theirs.device, theirs.weights_dir):
            raise ValueError(f"{self.variant}: built for device {mine.device} and weights {mine.weights_dir}, but the clip "
                             f"context has device {theirs.device} and weights {theirs.weights_dir}; build both from one Settings")

    def compute(self) -> dict:
        return self.state.compute()

    def reset(self) -> None:
        self.state = self.new_state()


def require_coverage(found: np.ndarray, minimum: float, what: str) -> None:
    """Fail the clip (with its reason) when too few frames have a face to score it honestly."""
    coverage = float(found.mean()) if found.size else 0.0
    if coverage < minimum:
        raise ClipError("metric", f"{what}: a face was found in only {found.sum()} of {found.size} frames "
                                  f"({coverage:.0%} < the {minimum:.0%} coverage threshold)")


def frames_to_tensor(frames: np.ndarray, device: torch.device, dtype=torch.float64) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) float on `device`, still on the 0-255 scale."""
    array = np.ascontiguousarray(frames)
    if not array.flags.writeable:  # torch warns on read-only buffers (e.g. decoded images)
        array = array.copy()
    return torch.from_numpy(array).to(device).permute(0, 3, 1, 2).to(dtype)


def frame_chunks(n: int, chunk: int):
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))
