"""Metrics by name. A variant name (e.g. `lmd-centered`) selects its family with that convention."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.registry import Registry
from benchmark.settings import Settings

if TYPE_CHECKING:
    from metrics.base import Metric

METRICS: Registry = Registry(
    "metric",
    "metrics",
    {
        "psnr": "metrics.psnr:PSNR",
        "ssim": "metrics.ssim:SSIM",
        "lmd": "metrics.lmd:LMD",
        "blink": "metrics.blink:BlinkRate",
        "bilabial": "metrics.bilabial:BilabialClosure",
        "cpbd": "metrics.cpbd:CPBD",
        "fid": "metrics.fid:FID",
        "kid": "metrics.fid:KID",
        "acd": "metrics.acd:ACD",
        "lse-c": "metrics.lse:LSEC",
        "lse-d": "metrics.lse:LSED",
    },
)

# variant name -> family, so `--metrics lmd-centered` works without importing every metric first
VARIANT_FAMILIES = {
    "lmd-centered": "lmd",
    "lmd-sum": "lmd",
    "lmd-l1": "lmd",
    "blink-online": "blink",
    "acd-e": "acd",
    "acd-identity": "acd",
    "acd-e-identity": "acd",
}


def create_metric(name: str, settings: Settings) -> Metric:
    """The metric (or variant) `name` on the settings' device, weights folder and backends, checked."""
    family = VARIANT_FAMILIES.get(name, name)
    metric = METRICS.get(family)(variant=name if name != family else None, settings=settings)
    metric.check()
    return metric


# fast, offline, and what most papers report; `--metrics all` adds FID/KID, ACD and (with weights) LSE
DEFAULT_METRICS = ("psnr", "ssim", "lmd", "cpbd", "blink", "bilabial")


def expand_metric_names(names: tuple[str, ...], settings: Settings, log=print) -> tuple[str, ...]:
    """`all` = every registered metric whose requirements are met under `settings` (the rest are named and skipped)."""
    from benchmark.errors import BenchError

    if "all" not in names:
        return names
    available = []
    for name in METRICS.names():
        try:
            METRICS.get(name)(settings=settings).check()
            available.append(name)
        except BenchError as exc:
            log(f"--metrics all: skipping {name}: {exc.message}")
    return tuple(dict.fromkeys([n for n in names if n != "all"] + available))
