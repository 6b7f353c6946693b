"""Where a number came from: code revision, package versions, machine."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


TRACKED_PACKAGES = ("talking-head-bench", "torch", "numpy", "scipy", "scikit-image", "pillow", "av", "espeakng-loader")


def git_revision() -> dict:
    """Commit of the harness source tree, and whether it had uncommitted changes."""
    root = Path(__file__).resolve().parents[2]  # the checkout: benchmark/core/provenance.py
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {"commit": rev.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def device_info(device: str) -> dict:
    import torch

    from benchmark.core.settings import TORCH_NUMERICS

    info = {
        "requested": device,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu": platform.processor() or platform.machine(),
        "numerics": dict(TORCH_NUMERICS),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
        info["cuda"] = torch.version.cuda
    return info
