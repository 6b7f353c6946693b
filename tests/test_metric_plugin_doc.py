"""docs/metrics.md is a working metric plugin: its module and entry point are built into a package
here, run through `bench` (a fresh process finds it by its entry point alone), and put through the
contract every registered metric keeps (tests/metric_contract.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import metric_contract as contract
from benchmark.core.records import load_record
from benchmark.core.registry import Registry
from benchmark.core.settings import Settings

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(), re.S)


def _install_from_doc(site: Path) -> dict:
    """The page's `# file:` blocks and its pyproject's entry points as an installed distribution."""
    for block in _blocks("python"):
        first, _, body = block.partition("\n")
        path = site / first.removeprefix("# file: ").strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    (pyproject,) = _blocks("toml")
    project = tomllib.loads(pyproject)["project"]
    dist = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    lines = [
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
        for group, entries in project["entry-points"].items()
    ]
    (dist / "entry_points.txt").write_text("\n".join(lines))
    return project


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    project = _install_from_doc(site)
    # one module and one entry point: all it takes to add the page's metric
    assert [b.partition("\n")[0] for b in _blocks("python")] == ["# file: flicker_metric.py"]
    assert project["entry-points"] == {"talking_head_bench.metrics": {"flicker": "flicker_metric:Flicker"}}
    return site


@pytest.fixture
def plugin_registry(site, monkeypatch):
    """This process's metric registry as a fresh one that sees the page's distribution."""
    import metrics

    monkeypatch.syspath_prepend(str(site))
    fresh = Registry(
        "metric", "metrics", dict(metrics.BUILTIN_METRICS), base="metrics.base:Metric", variants="variants"
    )
    monkeypatch.setattr(metrics, "METRICS", fresh)
    assert fresh.origin("flicker") == "plugin flicker-metric"
    return fresh


def test_the_page_metric_keeps_the_contract(plugin_registry, tmp_path):
    settings = Settings.create(data_dir=tmp_path, environ={})
    contract.check_declaration("flicker", settings)
    contract.check_spec_rebuilds_column("flicker", settings)
    scoring = contract.Scoring(settings)
    contract.check_deterministic(scoring, "flicker")
    contract.check_merge_order(scoring, "flicker")
    contract.check_faceless_and_short(scoring, "flicker")
    contract.check_clip_metric(scoring, "flicker")
    # its number, recomputed independently: mean |luma(t+1) - luma(t)| of the generated frames
    generated, _ = contract.clip_frames("a")
    luma = generated.astype(np.float64).mean(axis=(1, 2)) @ np.array([0.299, 0.587, 0.114])
    value = scoring.outcome("flicker", "a").score["value"]
    assert value == pytest.approx(np.abs(np.diff(luma)).mean(), rel=1e-12) and value > 0
    short = scoring.outcome("flicker-step2", "short").score
    assert short["status"] == "failed" and "needs more than 2 frames" in short["reason"]


def test_the_page_metric_runs_through_bench(site, mini_data_root, tmp_path):
    env = {
        **os.environ,
        "BENCH_DATA": str(mini_data_root),
        "PYTHONPATH": os.pathsep.join([str(site), str(DOC.parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    bench = [str(Path(sys.executable).with_name("bench"))]

    def run(*args):
        proc = subprocess.run([*bench, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
        return proc

    assert re.search(r"^flicker\s+.*Mean absolute change of mean luma", run("list", "metrics").stdout, re.M)
    run(
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--limit",
        "2",
        "--metrics",
        "psnr,flicker,flicker-step2",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
    )
    record = load_record(next((tmp_path / "runs").rglob("record.json")).parent)
    flicker = record["results"]["flicker"]
    assert flicker["value"] == 0.0 and flicker["reference_value"] > 0  # a still never flickers; speech does
    assert flicker["coverage"] == "2/2" and record["results"]["flicker-step2"]["reference_value"] > 0
    specs = {m["variant"]: m for m in record["metrics"]}
    assert specs["flicker"]["aggregation"] == "ratio of sums over clips (pooled)"
    assert specs["flicker-step2"]["params"] == {"color": "bt601-luma", "step": 2}
    assert json.loads(json.dumps(specs["flicker"]))["backend"] == "numpy float64"
