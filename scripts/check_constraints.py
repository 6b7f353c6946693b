"""Installed versions vs constraints.txt: run by scripts/setup.sh after installing (CI does this too).

Exits 1 naming every package whose installed version differs from its pin; prints which torch
build (CPU or CUDA) was installed, so a log shows whether pip took the CPU wheel.
"""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement


def pins(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            out[req.name] = spec.version
    return out


def main() -> int:
    problems = []
    for name, version in pins(Path(__file__).resolve().parent.parent / "constraints.txt").items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: not installed (constraints.txt pins {version})")
            continue
        if installed.split("+")[0] != version:
            problems.append(f"{name}: {installed} installed, constraints.txt pins {version}")
    import torch

    build = "CUDA " + torch.version.cuda if torch.version.cuda else "CPU"
    print(f"constraints: {len(problems)} mismatch(es); torch {torch.__version__} ({build} build)")
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
