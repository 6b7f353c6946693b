"""One mini run with every metric issue 13 added, on random weights in the official file layouts:
each variant is in the record with its parameters and backend, and each produces a value."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from benchmark.perception import i3d, lpips_net, user_weights
from benchmark.perception.embedders import IResNet
from benchmark.perception.lpips_net import TorchvisionBackbone
from protocols.mini import MiniProtocol

NEW_METRICS = ("fvd", "fvd-windows", "fvd-pytorch-i3d", "lpips", "lpips-vgg", "csim", "csim-unaligned")


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


@pytest.mark.slow  # I3D, VGG16 and IResNet forward passes on CPU
def test_a_mini_run_records_every_new_metric_with_its_variant_and_parameters(mini_data_root, tmp_path, monkeypatch):
    from benchmark.engine.runner import RunConfig, Runner

    for name in ("ALEXNET_TORCHVISION", "VGG16_TORCHVISION"):  # random files cannot carry the published hash
        monkeypatch.setattr(lpips_net, name, dataclasses.replace(getattr(user_weights, name), sha256_prefix=None))
    weights = tmp_path / "weights"
    write_random_weights(weights)
    config = RunConfig(
        model="still",
        dataset="mini",
        metrics=NEW_METRICS,
        limit=3,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        weights_dir=weights,
    )
    record = Runner(config, progress=False, log=lambda s: None).run().record
    results, specs = record["results"], {m["variant"]: m for m in record["metrics"]}
    assert set(NEW_METRICS) <= set(results) and set(NEW_METRICS) <= set(specs)
    run_dir = next((tmp_path / "runs").rglob("record.json")).parent
    frames = {c.id: c.n_frames for c in MiniProtocol(mini_data_root).clips()}
    lengths = [frames[json.loads(line)["clip_id"]] for line in (run_dir / "clips.jsonl").read_text().splitlines()]
    # non-overlapping 16-frame windows from frame 0 on each clip; the default is one window per clip
    assert results["fvd-windows"]["windows_generated"] == sum(n // 16 for n in lengths) >= 10
    assert results["fvd-windows"]["value"] > 0
    assert results["fvd"]["windows_generated"] == 3 and "at least 10 windows" in results["fvd"]["error"]
    for name in ("lpips", "lpips-vgg", "csim", "csim-unaligned"):
        assert results[name]["n_scored"] == 3 and results[name]["value"] is not None, name
    assert results["csim"]["value"] > 0.999 and results["csim"]["reference_value"] < results["csim"]["value"]
    assert (
        specs["fvd-windows"]["params"]["windows"] == "non-overlapping" and specs["fvd"]["params"]["clip_frames"] == 16
    )
    assert specs["fvd"]["backend"].startswith("i3d-torchscript-") and specs["fvd-pytorch-i3d"]["backend"].startswith(
        "pytorch-i3d-"
    )
    assert specs["lpips-vgg"]["params"]["net"] == "vgg" and specs["lpips"]["params"]["input_range"].startswith(
        "[-1, 1]"
    )
    assert specs["csim-unaligned"]["params"]["alignment"].startswith("none") and "5-point" in specs["csim"]["backend"]


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
