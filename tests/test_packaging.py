"""Package metadata has ranges (the harness installs into a model's environment); constraints.txt has the pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

ROOT = Path(__file__).resolve().parent.parent


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _constraints() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            (spec,) = req.specifier
            assert spec.operator == "==", f"constraints.txt: {line} is not an exact pin"
            out[req.name.lower().replace("_", "-")] = spec.version
    return out


def _requirements() -> list[Requirement]:
    project = _project()
    return [Requirement(r) for r in project["dependencies"] + [r for extra in project["optional-dependencies"].values()
                                                                   for r in extra]]


def test_package_metadata_has_no_exact_pins():
    pinned = [str(r) for r in _requirements() if any(s.operator in ("==", "===") for s in r.specifier)]
    assert not pinned, f"exact pins belong in constraints.txt, not pyproject.toml: {pinned}"


def test_every_dependency_is_pinned_in_constraints_within_its_range():
    pins = _constraints()
    for req in _requirements():
        name = req.name.lower().replace("_", "-")
        if name == "pyarrow":  # the parquet extra: optional, not installed by setup
            continue
        assert name in pins, f"{req.name} has no pin in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {req}"


def test_setup_installs_with_the_constraints():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-c constraints.txt" in setup and "check_constraints.py" in setup
