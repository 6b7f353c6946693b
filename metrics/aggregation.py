"""How a metric's clip outcomes become its result, declared as data on the metric class.

As torchmetrics declares a state with its reduction, a metric names one of these: `Mean()` over
clips, `Pooled(ratios, primary, means)` ratios of counts summed over clips, `Frechet(...)` and
`KernelMMD(...)` over features pooled from the whole set. The engine's reduce, `bench compare`
and `ClipMetric` read the declaration to make the empty mergeable state, describe the aggregation
in the record, pair two runs and declare torchmetrics states, without building the metric (which
holds networks). A value that depends on the metric's parameters is written `Param("name")`; a
declaration chosen by a parameter is `ByParam("param", {value: declaration, ...})`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from benchmark.core.stats import MeanState, PooledState


@dataclass(frozen=True)
class Param:
    """The metric parameter `name`, read when the declaration is bound to a metric's parameters."""

    name: str


@dataclass(frozen=True)
class ByParam:
    """One of several declarations, chosen by the value of the parameter `param` (missing: None)."""

    param: str
    choices: dict[Any, Any]

    def choose(self, params: dict) -> Any:
        value = params.get(self.param)
        if value not in self.choices:
            raise ValueError(f"unknown {self.param} {value!r}; known: {list(self.choices)}")
        return self.choices[value]


def resolve(declared: Any, params: dict) -> Any:
    """A declaration with its `Param`s and `ByParam`s replaced by what `params` say."""
    if isinstance(declared, ByParam):
        return resolve(declared.choose(params), params)
    if isinstance(declared, Param):
        return params[declared.name]
    if isinstance(declared, Aggregation):
        return declared.bind(params)
    return declared


@dataclass(frozen=True)
class Channels:
    """What one clip's outcome carries: a per-clip value, counts pooled across clips (keys of
    `ClipValue.pooled`), and arrays kept beside the run (keys of `ClipValue.artifacts`)."""

    value: bool = True
    pooled: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()

    def covers(self, other: "Channels") -> bool:
        """Whether every channel `other` names is one of these."""
        return (
            (self.value or not other.value)
            and set(other.pooled) <= set(self.pooled)
            and set(other.artifacts) <= set(self.artifacts)
        )


class Aggregation:
    """The declared reduction of a metric's clip outcomes; `new_state()` makes its empty mergeable state."""

    description: str = ""  # what the record says under "aggregation"
    consumes_artifacts = False  # reduce loads each clip's stored arrays (features) into the state
    untracked: str | None = None  # why ClipMetric cannot offer it one clip at a time (None: it can)

    def bind(self, params: dict) -> "Aggregation":
        values = {f.name: resolve(getattr(self, f.name), params) for f in dataclasses.fields(self)}
        return dataclasses.replace(self, **values)

    def new_state(self):
        raise NotImplementedError

    def reads(self) -> Channels:
        """The clip-outcome channels this aggregation reads: the metric must declare them."""
        raise NotImplementedError

    # ---- running sums, for ClipMetric's torchmetrics states (summed across processes) -----------

    def tracked_sums(self) -> tuple[str, ...]:
        """Names of the sums one clip adds to; the value is a function of them and the clip count."""
        raise NotImplementedError(self.untracked)

    def clip_sums(self, value: float | None, pooled: dict) -> dict[str, float] | None:
        """One clip's additions to the sums, or None when the clip adds nothing (counted as failed)."""
        raise NotImplementedError(self.untracked)

    def value_of_sums(self, sums: dict[str, float], clips: int) -> float:
        raise NotImplementedError(self.untracked)


@dataclass(frozen=True)
class Mean(Aggregation):
    """The mean of per-clip values, with a bootstrap interval over clips."""

    description = "mean over clips"

    def new_state(self) -> MeanState:
        return MeanState()

    def reads(self) -> Channels:
        return Channels(value=True)

    def tracked_sums(self) -> tuple[str, ...]:
        return ("value",)

    def clip_sums(self, value, pooled):
        return None if value is None else {"value": float(value)}

    def value_of_sums(self, sums, clips):
        return sums["value"] / clips


@dataclass(frozen=True)
class Pooled(Aggregation):
    """Counts summed over clips; results are ratios of the sums (`ratios`: name -> (numerator,
    denominator)), or means of such ratios (`means`); `primary` is reported as the value."""

    ratios: dict[str, tuple[str, str]]
    primary: str = "value"
    means: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def description(self) -> str:
        return self.new_state().aggregation

    def new_state(self) -> PooledState:
        return PooledState(dict(self.ratios), self.primary, means=dict(self.means))

    def reads(self) -> Channels:
        return Channels(value=False, pooled=self.counts())

    def counts(self) -> tuple[str, ...]:
        """Every count key a clip's outcome pools."""
        return tuple(sorted({k for pair in self.ratios.values() for k in pair}))

    def tracked_sums(self):
        return self.counts()

    def clip_sums(self, value, pooled):
        return {k: float(pooled.get(k, 0.0)) for k in self.counts()} if pooled else None

    def value_of_sums(self, sums, clips):
        return float(self.new_state().evaluate(sums))


WHOLE_SET = (
    "a distribution metric: its value needs the features of the whole set at once; track it with "
    "torchmetrics' own FID, or score the whole set with `bench run`"
)


@dataclass(frozen=True)
class Frechet(Aggregation):
    """Frechet distance between Gaussians fitted to pooled features of both sides (float64 sums)."""

    min_samples: int | Param
    dim: int
    what: str = "FID"
    samples: str = "frames"  # what a feature row is: frames (FID), windows of frames (FVD)
    small_set_hint: str = "; use KID for small sets"

    description = "Frechet distance of pooled float64 feature sums"
    consumes_artifacts = True
    untracked = WHOLE_SET

    def reads(self) -> Channels:
        return Channels(value=False, artifacts=("generated", "reference"))

    def new_state(self):
        from metrics.feature_states import FrechetState

        return FrechetState(self.min_samples, self.dim, self.what, self.samples, self.small_set_hint)


@dataclass(frozen=True)
class KernelMMD(Aggregation):
    """Unbiased polynomial-kernel MMD over seeded subsets of the pooled features (KID)."""

    subsets: int | Param
    subset_size: int | Param
    cap: int | Param
    seed: int | Param = 0

    description = "unbiased polynomial-kernel MMD over seeded subsets of pooled features"
    consumes_artifacts = True
    untracked = WHOLE_SET

    def reads(self) -> Channels:
        return Channels(value=False, artifacts=("generated", "reference"))

    def new_state(self):
        from metrics.feature_states import KernelState

        return KernelState(self.subsets, self.subset_size, self.cap, self.seed)
