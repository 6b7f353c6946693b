"""Contract tests over the metric registry (as pyiqa parametrizes over list_models()): every
registered metric, plugins installed here included, is declared as data, rebuilds its column id
from a record, scores deterministically, aggregates the same in any merge order, ends a faceless
or too-short clip as its own status, and is offered by ClipMetric or says why not. And one run
builds each metric exactly once (in its worker): planning, reduce and compare read declarations.

Weights this machine lacks are random files in the official layouts (SyncNet, I3D, the LPIPS
backbone): what is checked is the contract, not the magnitudes. CSIM's ArcFace (iresnet100) is not
faked: scoring with it takes minutes on a CPU, so csim is skipped with its reason where its
weights are absent (tests/test_csim.py scores it with random ones).
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest
import torch

import metric_contract as contract
from benchmark.core.settings import Settings
from metrics import METRICS
from metrics.base import Metric

NAMES = METRICS.names()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random weights in the official layouts, for the metrics whose files are not on this machine."""
    from torch import nn

    from benchmark.perception.i3d import InceptionI3d
    from benchmark.perception.lpips_net import TorchvisionBackbone
    from benchmark.perception.syncnet import SyncNet

    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    torch.save(SyncNet().state_dict(), root / "syncnet_v2.model")
    (root / "i3d").mkdir()
    i3d = InceptionI3d().eval()

    class StyleGanVCall(nn.Module):  # the call signature of StyleGAN-V's i3d_torchscript.pt
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
            return self.inner(x)

    traced = torch.jit.trace(i3d, torch.zeros(1, 3, 16, 224, 224))
    torch.jit.script(StyleGanVCall(traced)).save(str(root / "i3d" / "i3d_torchscript.pt"))
    (root / "torchvision").mkdir()
    torch.save(TorchvisionBackbone("alex").state_dict(), root / "torchvision" / "alexnet-owt-7be5be79.pth")
    # no random ArcFace (iresnet100): scoring these clips with it costs minutes on a CPU; csim is
    # skipped here with that reason unless real weights are given, and tests/test_csim.py covers it
    return root


@pytest.fixture(scope="module")
def settings(weights, tmp_path_factory):
    from benchmark.perception import lpips_net, user_weights

    # the published sha256 prefix is checked for the real backbone; a random test file cannot match it
    patch = pytest.MonkeyPatch()
    patch.setattr(
        lpips_net, "ALEXNET_TORCHVISION", dataclasses.replace(user_weights.ALEXNET_TORCHVISION, sha256_prefix=None)
    )
    yield Settings.create(data_dir=tmp_path_factory.mktemp("data"), weights_dir=weights, environ={})
    patch.undo()


@pytest.fixture(scope="module")
def scoring(settings, tmp_path_factory):
    return contract.Scoring(settings, cache_dir=tmp_path_factory.mktemp("features"))


def _available(name, settings):
    why = contract.unavailable(name, settings)
    if why is not None:
        pytest.skip(f"{name} cannot be built here: {why}")


@pytest.mark.parametrize("name", NAMES)
def test_declared_as_data(name, tmp_path):
    contract.check_declaration(name, Settings.create(data_dir=tmp_path, environ={}))  # no weights: none are read


@pytest.mark.parametrize("name", NAMES)
def test_a_recorded_spec_rebuilds_its_column_id(name, settings):
    _available(name, settings)
    contract.check_spec_rebuilds_column(name, settings)


@pytest.mark.parametrize("name", NAMES)
def test_same_clip_twice_same_outcome(name, scoring, settings):
    _available(name, settings)
    contract.check_deterministic(scoring, name)


@pytest.mark.parametrize("name", NAMES)
def test_the_state_does_not_depend_on_merge_order(name, scoring, settings):
    _available(name, settings)
    contract.check_merge_order(scoring, name)


@pytest.mark.parametrize("name", NAMES)
def test_a_faceless_and_a_too_short_clip_end_as_the_metrics_status(name, scoring, settings):
    _available(name, settings)
    contract.check_faceless_and_short(scoring, name)


@pytest.mark.parametrize("name", NAMES)
def test_clip_metric_offers_it_or_says_why_not(name, scoring, settings):
    _available(name, settings)
    contract.check_clip_metric(scoring, name)


# ---- built once per worker ---------------------------------------------------------------------


@pytest.fixture
def constructions(monkeypatch):
    """Metric constructions by class name, counted from Metric.__init__."""
    counts: Counter = Counter()
    original = Metric.__init__

    def counting(self, *args, **kwargs):
        counts[type(self).__name__] += 1
        original(self, *args, **kwargs)

    monkeypatch.setattr(Metric, "__init__", counting)
    return counts


def test_a_run_builds_each_metric_once_in_its_worker_and_nowhere_else(constructions, mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner
    from benchmark.reports.compare import compare_runs
    from metrics import expand_metric_names

    metrics = ("psnr", "blink", "bilabial-recall", "lmd")
    runs = {}
    for model in ("still", "ground-truth"):
        config = RunConfig(
            model=model,
            dataset="mini",
            metrics=metrics,
            limit=2,
            data_dir=mini_data_root,
            runs_dir=tmp_path / "runs",
            threads=1,
        )
        runs[model] = Runner(config, progress=False, log=lambda s: None).run()
        assert runs[model].exit_code == 0
    # one local worker per run: each metric built once per run, by it
    assert constructions == Counter({"PSNR": 2, "BlinkRate": 2, "BilabialClosure": 2, "LMD": 2}), constructions
    constructions.clear()
    compared = compare_runs(runs["still"].run_dir, runs["ground-truth"].run_dir)
    assert {m["metric"]: m["kind"] for m in compared["metrics"]}["blink"] == "pooled ratio"
    assert expand_metric_names(("all",), Settings.create(data_dir=mini_data_root), log=lambda s: None)
    assert constructions == Counter(), constructions
