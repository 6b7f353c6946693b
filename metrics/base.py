"""The interface every metric shares: a declaration on the class, a scorer built from it.

A metric class declares, as data, its name and variants, parameters, direction, unit, the
features it needs, what each clip's outcome carries and how outcomes aggregate (metrics/
aggregation.py). Planning, reduce, compare, tables and ClipMetric read that declaration; only a
worker builds the scorer, which scores one clip at a time (`score_clip`, or `update` to fold it
into a mergeable state). Every number names its variant and parameters, so it can be traced back
to an exact convention.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from benchmark.core.errors import ClipError
from benchmark.core.settings import Settings
from benchmark.core.types import Direction, MetricSpec
from metrics.aggregation import Aggregation, ByParam, Channels, Mean, resolve  # noqa: F401 (Channels: for metric modules)
from metrics.context import ClipContext


@dataclass
class ClipValue:
    """One clip's score, its contribution to a pooled aggregate (counts that add across clips,
    e.g. blinks and seconds), and per-clip diagnostics (e.g. frames at the PSNR cap)."""

    value: float | None
    pooled: dict[str, float] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, np.ndarray] = field(default_factory=dict)  # large per-clip arrays kept beside the run


# The features a metric may declare it needs: the names the clip context's feature providers answer to.
FEATURES = (
    "frames",
    "audio",
    "phones",
    "landmarks",
    "identity-embeddings",
    "inception",
    "pytorch-fid-inception",
    "syncnet",
    "i3d",
    "head-pose",
    "speech",
    "mouth-openness",
    "speech-envelope",
)


class Metric(ABC):
    """A metric is declared by its class (data and classmethods, read without building it) and
    built once per worker to score clips.

    The declaration: name and variants, default parameters, direction, unit, the features it needs,
    its per-clip channels and its aggregation; `check` and `backend_for` answer from settings and
    parameters. `declare()` resolves a variant under settings into a `MetricDeclaration` (the spec,
    the empty state, the requirements check); only `MetricDeclaration.build()` makes a scorer.
    """

    name: ClassVar[str]
    direction: ClassVar[Direction]
    unit: ClassVar[str] = ""
    description: ClassVar[str] = ""
    backend: ClassVar[str] = "torch"
    default_params: ClassVar[dict[str, Any]] = {}
    # variant name -> parameter overrides; the default variant is called `name`
    variants: ClassVar[dict[str, dict[str, Any]]] = {}
    features: ClassVar[tuple[str, ...] | ByParam] = ("frames",)  # names from FEATURES
    channels: ClassVar[Channels | ByParam] = Channels()
    aggregation: ClassVar[Aggregation | ByParam] = Mean()

    # ---- the declaration: answered from the class, settings and parameters ----------------------

    @classmethod
    def declare(
        cls, variant: str | None = None, settings: Settings | None = None, **overrides: Any
    ) -> MetricDeclaration:
        """This metric (or variant) with its parameters resolved under `settings` (None: Settings.create());
        explicit `overrides` win over everything. Unknown variants and parameter values raise ValueError."""
        variant = variant or cls.name
        if variant != cls.name and variant not in cls.variants:
            raise ValueError(f"metric {cls.name} has no variant {variant!r}; known: {[cls.name, *cls.variants]}")
        settings = settings if settings is not None else Settings.create()
        declared = MetricDeclaration(
            cls, variant, cls.params_for(variant, settings, overrides), settings, dict(overrides)
        )
        try:  # a parameter value the declarations do not know fails here, not mid-run
            declared.aggregation, declared.features, declared.channels
        except ValueError as exc:
            raise ValueError(f"{cls.name}: {exc}") from None
        return declared

    @classmethod
    def params_for(cls, variant: str, settings: Settings | None, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults, then the variant's, then the settings' backend choices, then `overrides`."""
        return {**cls.default_params, **cls.variants.get(variant, {}), **cls.settings_params(settings), **overrides}

    @classmethod
    def settings_params(cls, settings: Settings | None) -> dict[str, Any]:
        """The backend choices of the settings this metric has a parameter for (a None choice keeps the default)."""
        if settings is None:
            return {}
        chosen = {"landmarks": settings.landmarks, "embedder": settings.embedder}
        return {k: v for k, v in chosen.items() if v is not None and k in cls.default_params}

    @classmethod
    def check(cls, settings: Settings, params: dict[str, Any]) -> None:
        """Raise a BenchError now (before any clip is processed) if something the metric needs is missing."""

    @classmethod
    def backend_for(cls, settings: Settings, params: dict[str, Any]) -> str:
        """The backend that produces the numbers under these settings, as recorded (e.g. a landmark detector's version)."""
        return cls.backend

    @classmethod
    def too_few(cls, variant: str, params: dict[str, Any], frame_counts: list[int]) -> str | None:
        """Why this metric can give no value over clips of these frame counts, known before any work (or None).

        A metric pooled over the whole set (FID) needs enough samples; saying so up front spares
        generating and featurising every clip for a number that cannot come."""
        return None

    # ---- the scorer ---------------------------------------------------------------------------

    def __init__(self, variant: str | None = None, settings: Settings | None = None, **overrides: Any):
        """`settings` gives the device, the weights folder and the backend choices (None: Settings.create(),
        for tests and the Python API); explicit `overrides` win over everything."""
        declared = type(self).declare(variant, settings, **overrides)
        self.variant, self.settings, self.params = declared.variant, declared.settings, dict(declared.params)
        self.device = torch.device(self.settings.device)
        self._state = None

    def backend_id(self) -> str:
        return type(self).backend_for(self.settings, self.params)

    @property
    def spec(self) -> MetricSpec:
        return MetricSpec(
            self.name, self.variant, self.direction, dict(self.params), self.backend_id(), self.unit, self.description
        )

    @abstractmethod
    def score_clip(self, ctx: ClipContext) -> ClipValue:
        """Score one clip (generated vs reference frames, with shared cached features)."""

    def new_state(self):
        """The declared aggregation's empty mergeable state for this metric's parameters."""
        return resolve(type(self).aggregation, self.params).new_state()

    @property
    def state(self):
        """The aggregate of the clips `update` saw (made on first use: the engine's workers never need it)."""
        if getattr(self, "_state", None) is None:
            self._state = self.new_state()
        return self._state

    @state.setter
    def state(self, value) -> None:
        self._state = value

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
            raise ValueError(
                f"{self.variant}: built for device {mine.device} and weights {mine.weights_dir}, but the clip "
                f"context has device {theirs.device} and weights {theirs.weights_dir}; build both from one Settings"
            )

    def compute(self) -> dict:
        return self.state.compute()

    def reset(self) -> None:
        self.state = self.new_state()


@dataclass(frozen=True)
class MetricDeclaration:
    """One metric (variant) with its parameters resolved: its spec, requirements, features,
    channels and aggregation, everything but the scorer (which `build` makes).

    `settings` is None for a declaration rebuilt from a record (reduce, compare): its aggregation
    and channels are known, its requirements and backend are not asked."""

    cls: type[Metric]
    variant: str
    params: dict[str, Any]
    settings: Settings | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # what `build` passes on to the class

    @property
    def name(self) -> str:
        return self.cls.name

    @property
    def direction(self) -> Direction:
        return self.cls.direction

    @property
    def aggregation(self) -> Aggregation:
        return resolve(self.cls.aggregation, self.params)

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(resolve(self.cls.features, self.params))

    @property
    def channels(self) -> Channels:
        return resolve(self.cls.channels, self.params)

    def check(self) -> None:
        self.cls.check(self.settings, self.params)

    def backend(self) -> str:
        return self.cls.backend_for(self.settings, self.params)

    def spec(self) -> MetricSpec:
        return MetricSpec(
            self.cls.name,
            self.variant,
            self.cls.direction,
            dict(self.params),
            self.backend(),
            self.cls.unit,
            self.cls.description,
        )

    def too_few(self, frame_counts: list[int]) -> str | None:
        return self.cls.too_few(self.variant, self.params, frame_counts)

    def build(self) -> Metric:
        """The scorer: the only place a metric is constructed (once per worker, or once per ClipMetric)."""
        if self.settings is None:
            raise ValueError(f"{self.variant}: a declaration read from a record has no settings to build a scorer on")
        return self.cls(self.variant if self.variant != self.cls.name else None, self.settings, **self.overrides)


def require_coverage(found: np.ndarray, minimum: float, what: str) -> None:
    """Fail the clip (with its reason) when too few frames have a face to score it honestly."""
    coverage = float(found.mean()) if found.size else 0.0
    if coverage < minimum:
        raise ClipError(
            "metric",
            f"{what}: a face was found in only {found.sum()} of {found.size} frames "
            f"({coverage:.0%} < the {minimum:.0%} coverage threshold)",
        )


def frames_to_tensor(frames: np.ndarray, device: torch.device, dtype=torch.float64) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) float on `device`, still on the 0-255 scale."""
    array = np.ascontiguousarray(frames)
    if not array.flags.writeable:  # torch warns on read-only buffers (e.g. decoded images)
        array = array.copy()
    return torch.from_numpy(array).to(device).permute(0, 3, 1, 2).to(dtype)


def frame_chunks(n: int, chunk: int):
    for start in range(0, n, chunk):
        yield slice(start, min(start + chunk, n))
