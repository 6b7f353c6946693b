"""Metrics by name. A variant name (e.g. `lmd-centered`) selects its family with that convention.

Variants are names in their own right: the registry learns them from each metric class's
`variants`, so a third-party metric's variants work with `--metrics` as the built-ins' do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.core.registry import Registry
from benchmark.core.settings import Settings

if TYPE_CHECKING:
    from metrics.base import Metric, MetricDeclaration

BUILTIN_METRICS: dict[str, str] = {
    "psnr": "metrics.psnr:PSNR",
    "ssim": "metrics.ssim:SSIM",
    "lmd": "metrics.lmd:LMD",
    "blink": "metrics.blink:BlinkRate",
    "bilabial": "metrics.bilabial:BilabialClosure",
    "cpbd": "metrics.cpbd:CPBD",
    "fid": "metrics.fid:FID",
    "kid": "metrics.fid:KID",
    "acd": "metrics.acd:ACD",
    "csim": "metrics.csim:CSIM",
    "lpips": "metrics.lpips_metric:LPIPS",
    "fvd": "metrics.fvd:FVD",
    "lse-c": "metrics.lse:LSEC",
    "lse-d": "metrics.lse:LSED",
    "lip-dynamics": "metrics.motion.theval_metrics:LipDynamics",
    "eyebrow-dynamics": "metrics.motion.theval_metrics:EyebrowDynamics",
    "head-motion-dynamics-lm": "metrics.motion.theval_metrics:HeadMotionDynamicsLm",
    "silent-lip-stability": "metrics.motion.theval_metrics:SilentLipStability",
    "lip-sync-theval": "metrics.motion.theval_metrics:LipSyncTheval",
    "theval-score": "metrics.motion.theval_metrics:TheValScore",
    "av-offset": "metrics.motion.sync_metrics:AvOffset",
    "av-conf": "metrics.motion.sync_metrics:AvConf",
    "pose-diversity": "metrics.motion.head_metrics:PoseDiversity",
    "beat-align": "metrics.motion.head_metrics:BeatAlign",
    "pose-l1": "metrics.motion.head_metrics:PoseL1",
    "pose-fd": "metrics.motion.head_metrics:PoseFD",
}

METRICS: Registry = Registry("metric", "metrics", BUILTIN_METRICS, base="metrics.base:Metric", variants="variants")


def family_of(name: str) -> str:
    """The registered metric (family) of a metric or variant name: `lmd-centered` -> `lmd`, `psnr` -> `psnr`.

    A family name answers at once; a variant name loads the metric classes to read their variants.
    An unknown name comes back unchanged (METRICS.get then names it, with suggestions).
    """
    return METRICS.resolve(name)


def declare_metric(name: str, settings: Settings) -> MetricDeclaration:
    """The metric (or variant) `name` declared on the settings' device, weights folder and backends
    (nothing is built or checked: see MetricDeclaration.check and .build)."""
    family = family_of(name)
    return METRICS.get(family).declare(name if name != family else None, settings)


def recorded_metric(spec: dict) -> MetricDeclaration:
    """The declaration of a metric spec as a record or plan wrote it (its variant and parameters),
    for its aggregation and channels: reduce and compare read it; it has no settings to build on."""
    from metrics.base import MetricDeclaration

    cls = METRICS.get(spec.get("name") or family_of(spec["variant"]))
    variant = spec["variant"]
    overrides = dict(spec.get("params", {}))
    return MetricDeclaration(cls, variant, cls.params_for(variant, None, overrides), None, overrides)


def create_metric(name: str, settings: Settings) -> Metric:
    """The metric (or variant) `name` on the settings' device, weights folder and backends, checked and built."""
    declared = declare_metric(name, settings)
    declared.check()
    return declared.build()


# fast, offline, and what most papers report; `--metrics all` adds FID/KID, ACD and (with weights) LSE
DEFAULT_METRICS = ("psnr", "ssim", "lmd", "cpbd", "blink", "bilabial")


# named groups `--metrics` expands in place (`all` is every available metric, below)
METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    # issue 26: THEval's five and its composite, the weightless AV offset, head motion (README "Motion")
    "motion": (
        "lip-dynamics",
        "eyebrow-dynamics",
        "head-motion-dynamics-lm",
        "silent-lip-stability",
        "lip-sync-theval",
        "theval-score",
        "av-offset",
        "av-offset-paired",
        "av-conf",
        "pose-diversity",
        "beat-align",
        "pose-l1",
        "pose-fd",
    ),
}


def expand_groups(names: tuple[str, ...]) -> tuple[str, ...]:
    """Each group name (`motion`) replaced by its metrics, duplicates dropped, order kept."""
    return tuple(dict.fromkeys(n for name in names for n in METRIC_GROUPS.get(name, (name,))))


def expand_metric_names(
    names: tuple[str, ...], settings: Settings, log=print, skipped: list[dict] | None = None
) -> tuple[str, ...]:
    """Groups (`motion`) expanded; `all` = every registered metric whose requirements are met under
    `settings` (the rest are named and skipped).

    Each metric `all` leaves out is logged and, when `skipped` is given, appended to it as
    {"name", "reason"}: the run records them, so its page says which metrics are missing and why."""
    from benchmark.core.errors import BenchError

    names = expand_groups(tuple(names))
    if "all" not in names:
        return names
    available = []
    for name in METRICS.names():
        try:
            declare_metric(name, settings).check()
            available.append(name)
        except BenchError as exc:
            log(f"--metrics all: skipping {name}: {exc.message}")
            if skipped is not None:
                skipped.append({"name": name, "reason": exc.message})
    return tuple(dict.fromkeys([n for n in names if n != "all"] + available))
