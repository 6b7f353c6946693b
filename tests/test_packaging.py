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
    return [
        Requirement(r)
        for r in project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    ]


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
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside pyproject's {req}"
        )


def test_setup_installs_with_the_constraints():
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "-c constraints.txt" in setup and "check_constraints.py" in setup


def test_an_extra_installs_the_default_landmark_backend_at_its_pinned_version():
    extra = [Requirement(r) for r in _project()["optional-dependencies"].get("mediapipe", [])]
    (mediapipe,) = [r for r in extra if r.name == "mediapipe"]
    # 0.10.21 and nothing else: the last with bundled face-mesh models, and its version is in the backend's id
    assert mediapipe.specifier.contains(_constraints()["mediapipe"]) and _constraints()["mediapipe"] == "0.10.21"
    assert not any(mediapipe.specifier.contains(v) for v in ("0.10.20", "0.10.22", "0.11.0"))


def test_the_face_mesh_needs_only_core_dependencies_of_those_mediapipe_declares():
    """What mediapipe 0.10.21 declares, less jax/jaxlib/sounddevice, is in the core dependencies at pins it
    accepts; those three are not installed here (setup installs it --no-deps), yet the face mesh runs."""
    import importlib.metadata
    import importlib.util

    try:
        declared = [Requirement(r) for r in importlib.metadata.requires("mediapipe") or []]
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mediapipe is not installed")
    unused = {"jax", "jaxlib", "sounddevice"}
    core = {Requirement(r).name.lower().replace("_", "-") for r in _project()["dependencies"]}
    pins = _constraints()
    needed = [r for r in declared if r.name.lower() not in unused]
    assert {r.name.lower().replace("_", "-") for r in needed} <= core
    for req in needed:
        assert req.specifier.contains(pins[req.name.lower().replace("_", "-")], prereleases=True), str(req)
    assert all(importlib.util.find_spec(name) is None for name in unused)
    from benchmark.perception.landmarks import MediapipeLandmarks

    assert MediapipeLandmarks().version().startswith("mediapipe-0.10.21-")


def test_without_mediapipe_the_error_names_the_extra_and_the_lean_install(monkeypatch):
    import sys

    from benchmark.core.errors import BenchError
    from benchmark.perception.landmarks import MediapipeLandmarks

    for name in ("mediapipe", "mediapipe.python", "mediapipe.python.solutions"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as in an environment without it
    with pytest.raises(BenchError) as err:
        MediapipeLandmarks()
    text = str(err.value)
    assert "pip install 'talking-head-bench[mediapipe]'" in text
    assert "pip install --no-deps mediapipe==0.10.21" in text and "--landmarks dlib68" in text
