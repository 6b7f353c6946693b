"""Metrics by name."""

from benchmark.registry import Registry

METRICS: Registry = Registry(
    "metric",
    "metrics",
    {
        "psnr": "metrics.psnr:PSNR",
        "ssim": "metrics.ssim:SSIM",
    },
)
