"""Metrics by name. A variant name (e.g. `lmd-centered`) selects its family with that convention."""

from __future__ import annotations

from benchmark.registry import Registry

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


def create_metric(name: str, device: str = "cpu", landmarks: str | None = None, embedder: str | None = None):
    family = VARIANT_FAMILIES.get(name, name)
    cls = METRICS.get(family)
    overrides = {}
    if landmarks and "landmarks" in cls.default_params:
        overrides["landmarks"] = landmarks
    if embedder and "embedder" in cls.default_params:
        overrides["embedder"] = embedder
    metric = cls(variant=name if name != family else None, device=device, **overrides)
    metric.check()
    return metric


# fast, offline, and what most papers report; `--metrics all` adds FID/KID, ACD and (with weights) LSE
DEFAULT_METRICS = ("psnr", "ssim", "lmd", "cpbd", "blink", "bilabial")


def expand_metric_names(names: tuple[str, ...], log=print) -> tuple[str, ...]:
    """`all` = every registered metric whose requirements are met here (the rest are named and skipped)."""
    from benchmark.errors import BenchError

    if "all" not in names:
        return names
    available = []
    for name in METRICS.names():
        try:
            METRICS.get(name)().check()
            available.append(name)
        except BenchError as exc:
            log(f"--metrics all: skipping {name}: {exc.message}")
    return tuple(dict.fromkeys([n for n in names if n != "all"] + available))
