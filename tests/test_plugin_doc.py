"""docs/plugins.md is a working plugin: its files are built into a package here and run through `bench`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark.core.records import load_record

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

DOC = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def _install_from_doc(site: Path) -> None:
    """The page's `# file:` blocks as a package, and its pyproject's entry points as installed metadata."""
    for block in _blocks("python"):
        first, _, body = block.partition("\n")
        path = site / first.removeprefix("# file: ").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    (pyproject,) = _blocks("toml")
    project = tomllib.loads(pyproject)["project"]
    dist = site / f"{project['name']}-{project['version']}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
        for group, entries in project["entry-points"].items()
    ]
    (dist / "entry_points.txt").write_text("\n".join(lines))


def test_the_documented_plugin_builds_registers_refuses_without_weights_and_scores(mini_data_root, tmp_path):
    site = tmp_path / "site"
    _install_from_doc(site)
    env = {
        **os.environ,
        "BENCH_DATA": str(mini_data_root),
        "PYTHONPATH": os.pathsep.join([str(site), str(DOC.parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    bench = [str(Path(sys.executable).with_name("bench"))]

    def run(*args, code=0):
        proc = subprocess.run([*bench, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == code, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr
        return proc

    assert re.search(r"^lipflap\s+Toy plugin", run("list", "models").stdout, re.M)
    weights = tmp_path / "weights"
    common = (
        "--model",
        "lipflap",
        "--dataset",
        "mini",
        "--limit",
        "2",
        "--metrics",
        "psnr",
        "--weights",
        str(weights),
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    refused = run("run", *common, code=1)
    assert f"needs {weights / 'lipflap' / 'lipflap.pt'}" in refused.stderr
    subprocess.run(
        [sys.executable, "-m", "lipflap.make_weights", str(weights / "lipflap" / "lipflap.pt")],
        env=env,
        check=True,
        capture_output=True,
    )
    run("run", *common, "--model-args", "strength=0.8", "--name", "lipflap-0.8")
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    assert record["label"] == "lipflap-0.8" and record["clips"]["scored"] == 2
    assert list(record["adapter"]["weights"]) == ["lipflap.pt"]
    assert 10 < record["results"]["psnr"]["value"] < 60
    assert "unknown option 'strenght'" in run("run", *common, "--model-args", "strenght=1", code=1).stderr
