"""Mini runs with the metrics issue 13 added, on random weights in the official file layouts (fvd-windows
on 3 clips, lpips and csim on one): each is in the record with its parameters and backend and has a value;
the other variants' specs are checked from the declaration a run writes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from benchmark.perception import i3d, lpips_net, user_weights
from benchmark.perception.embedders import IResNet
from benchmark.perception.lpips_net import TorchvisionBackbone
from protocols.mini import MiniProtocol


def write_random_weights(root) -> None:
    """Random networks saved under the published names and layouts (torchvision, pytorch-i3d,
    arcface_torch state dicts; a TorchScript I3D called as StyleGAN-V calls it)."""
    torch.manual_seed(0)
    for folder in ("torchvision", "i3d", "arcface"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    torch.save(TorchvisionBackbone("alex").state_dict(), root / "torchvision" / "alexnet-owt-7be5be79.pth")
    torch.save(TorchvisionBackbone("vgg").state_dict(), root / "torchvision" / "vgg16-397923af.pth")
    torch.save(IResNet().state_dict(), root / "arcface" / "backbone.pth")
    net = i3d.InceptionI3d().eval()
    torch.save(net.state_dict(), root / "i3d" / "rgb_imagenet.pt")

    class StyleGanVCall(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
            return self.inner(x)

    torch.jit.script(StyleGanVCall(torch.jit.trace(net, torch.zeros(1, 3, 16, 224, 224)))).save(
        str(root / "i3d" / "i3d_torchscript.pt")
    )


FVD_METRICS = ("fvd", "fvd-windows", "fvd-pytorch-i3d")  # I3D: seconds per clip on a CPU
FRAME_NETWORK_METRICS = ("lpips", "lpips-vgg", "csim", "csim-unaligned")  # AlexNet/VGG16, IResNet-100 per frame
NEW_METRICS = FVD_METRICS + FRAME_NETWORK_METRICS


def _run(metrics, limit, data_root, tmp_path, weights) -> tuple[dict, dict, Path]:
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(
        model="still",
        dataset="mini",
        metrics=metrics,
        limit=limit,
        data_dir=data_root,
        runs_dir=tmp_path / "runs" / metrics[0],
        weights_dir=weights,
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    record = outcome.record
    assert set(metrics) <= set(record["results"]) and set(metrics) <= {m["variant"] for m in record["metrics"]}
    return record["results"], {m["variant"]: m for m in record["metrics"]}, outcome.run_dir


@pytest.fixture
def random_weights(tmp_path, monkeypatch) -> Path:
    for name in ("ALEXNET_TORCHVISION", "VGG16_TORCHVISION"):  # random files cannot carry the published hash
        monkeypatch.setattr(lpips_net, name, dataclasses.replace(getattr(user_weights, name), sha256_prefix=None))
    write_random_weights(tmp_path / "weights")
    return tmp_path / "weights"


@pytest.mark.slow  # I3D forward passes on CPU
def test_a_mini_run_records_every_fvd_variant_with_its_windows_and_backend(mini_data_root, tmp_path, random_weights):
    """fvd-windows is run on 3 clips (every non-overlapping 16-frame window: >= 10); fvd and fvd-pytorch-i3d
    (one window a clip) are refused at the plan, before any work, since 3 clips give them 3 windows of
    the 10 they need; their record specs are checked from the declaration a run writes."""
    from benchmark.core.errors import BenchError
    from benchmark.core.settings import Settings
    from benchmark.engine.runner import RunConfig, Runner, declare_metrics

    results, specs, run_dir = _run(("fvd-windows",), 3, mini_data_root, tmp_path, random_weights)
    frames = {c.id: c.n_frames for c in MiniProtocol(mini_data_root).clips()}
    lengths = [frames[json.loads(line)["clip_id"]] for line in (run_dir / "clips.jsonl").read_text().splitlines()]
    # non-overlapping 16-frame windows from frame 0 on each clip
    assert results["fvd-windows"]["windows_generated"] == sum(n // 16 for n in lengths) >= 10
    assert results["fvd-windows"]["value"] > 0
    for variant in ("fvd", "fvd-pytorch-i3d"):
        config = RunConfig(
            model="still",
            dataset="mini",
            metrics=(variant,),
            limit=3,
            data_dir=mini_data_root,
            runs_dir=tmp_path / "refused",
            weights_dir=random_weights,
        )
        with pytest.raises(
            BenchError,
            match=rf"{variant} needs at least 10 windows of 16 frames per side and this run's 3 clips give 3; .*fvd-windows",
        ):
            Runner(config, progress=False, log=lambda s: None).plan()
    assert not (tmp_path / "refused").exists()
    settings = Settings.create(data_dir=mini_data_root, weights_dir=random_weights, environ={})
    declared = {m.variant: m.spec().to_dict() for m in declare_metrics(FVD_METRICS, settings)}
    assert declared["fvd-windows"] == {k: specs["fvd-windows"][k] for k in declared["fvd-windows"]}
    assert declared["fvd-windows"]["params"]["windows"] == "non-overlapping"
    assert declared["fvd"]["params"]["clip_frames"] == 16 and declared["fvd"]["params"]["windows"] == "first"
    assert declared["fvd"]["backend"].startswith("i3d-torchscript-")
    assert declared["fvd-pytorch-i3d"]["backend"].startswith("pytorch-i3d-")


@pytest.mark.slow  # AlexNet and IResNet-100 on every frame on CPU: one clip
def test_a_mini_run_records_every_lpips_and_csim_variant_with_a_value(mini_data_root, tmp_path, random_weights):
    """lpips and csim are run; lpips-vgg (VGG16) and csim-unaligned (IResNet-100 again) would double the
    cost: their values are tested in test_lpips.py (float64 recomputation) and test_csim.py, their
    record specs here from the same declaration the run writes."""
    from benchmark.core.settings import Settings
    from benchmark.engine.runner import declare_metrics

    run = ("lpips", "csim")
    results, specs, _ = _run(run, 1, mini_data_root, tmp_path, random_weights)
    for name in run:
        assert results[name]["n_scored"] == 1 and results[name]["value"] is not None, name
    assert results["csim"]["value"] > 0.999 and results["csim"]["reference_value"] < results["csim"]["value"]
    settings = Settings.create(data_dir=mini_data_root, weights_dir=random_weights, environ={})
    declared = {m.variant: m.spec().to_dict() for m in declare_metrics(FRAME_NETWORK_METRICS, settings)}
    assert {v: declared[v] for v in run} == {v: {k: specs[v][k] for k in declared[v]} for v in run}
    assert declared["lpips-vgg"]["params"]["net"] == "vgg" and specs["lpips"]["params"]["input_range"].startswith(
        "[-1, 1]"
    )
    assert (
        declared["csim-unaligned"]["params"]["alignment"].startswith("none") and "5-point" in specs["csim"]["backend"]
    )


def test_missing_weights_stop_the_run_before_any_work_naming_every_file(tmp_path):
    import pytest

    from benchmark.core.errors import BenchError
    from benchmark.engine.runner import declare_metrics
    from benchmark.core.settings import Settings

    with pytest.raises(BenchError) as caught:
        declare_metrics(("psnr", *NEW_METRICS), Settings.create(weights_dir=tmp_path))
    message = str(caught.value)
    assert message.startswith(f"{len(NEW_METRICS)} metrics cannot run (nothing was computed)")
    for path in (
        "i3d/i3d_torchscript.pt",
        "i3d/rgb_imagenet.pt",
        "torchvision/alexnet-owt-7be5be79.pth",
        "torchvision/vgg16-397923af.pth",
        "arcface/backbone.pth",
    ):
        assert str(tmp_path / path) in message, path
    assert "offline default" not in message  # none of these metrics has a file-free backend
