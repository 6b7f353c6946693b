"""LPIPS v0.1 (AlexNet default, VGG16 variant): torchvision key layouts loaded strictly from random
official-layout files, the lpips package's own heads, and a float64 recomputation written here from
the paper's definition (and the lpips package itself where torchvision imports)."""

from __future__ import annotations

import dataclasses
import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.core.errors import BenchError
from benchmark.perception import lpips_net, user_weights
from benchmark.perception.lpips_net import (
    LPIPSNet,
    TorchvisionBackbone,
    lpips_heads_file,
)
from benchmark.core.settings import Settings
from benchmark.core.video import Video
from metrics.context import ClipContext

# torchvision's own parameter names (models/alexnet.py, models/vgg.py), the layout of its files
ALEX_KEYS = [f"features.{i}.{p}" for i in (0, 3, 6, 8, 10) for p in ("weight", "bias")] + [
    f"classifier.{i}.{p}" for i in (1, 4, 6) for p in ("weight", "bias")
]
VGG16_KEYS = [
    f"features.{i}.{p}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28) for p in ("weight", "bias")
] + [f"classifier.{i}.{p}" for i in (0, 3, 6) for p in ("weight", "bias")]
FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Random backbones saved in torchvision's layout under the published file names."""
    root = tmp_path_factory.mktemp("weights")
    (root / "torchvision").mkdir()
    for k, (net, name) in enumerate(FILES.items()):
        torch.manual_seed(k)
        torch.save(TorchvisionBackbone(net).state_dict(), root / "torchvision" / name)
    return root


@pytest.fixture(autouse=True)
def random_files_accepted(monkeypatch):
    """The published sha256 prefixes are checked for real files; random test files cannot match them."""
    for name in ("ALEXNET_TORCHVISION", "VGG16_TORCHVISION"):
        monkeypatch.setattr(lpips_net, name, dataclasses.replace(getattr(user_weights, name), sha256_prefix=None))


def test_backbones_have_torchvisions_keys():
    assert sorted(TorchvisionBackbone("alex").state_dict()) == sorted(ALEX_KEYS)
    assert sorted(TorchvisionBackbone("vgg").state_dict()) == sorted(VGG16_KEYS)


def test_heads_come_from_the_lpips_package():
    for net in ("alex", "vgg"):
        path = lpips_heads_file(net)
        assert path.parts[-4:] == ("lpips", "weights", "v0.1", f"{net}.pth")


def test_a_wrong_key_and_a_missing_file_are_named(weights, tmp_path):
    with pytest.raises(BenchError, match="alexnet-owt-7be5be79.pth"):
        LPIPSNet("alex", tmp_path)
    (tmp_path / "torchvision").mkdir()
    state = TorchvisionBackbone("alex").state_dict()
    state["features.1.weight"] = state.pop("features.0.weight")
    torch.save(state, tmp_path / "torchvision" / FILES["alex"])
    with pytest.raises(BenchError, match="features.0.weight"):
        LPIPSNet("alex", tmp_path)


def _by_hand(net: str, weights, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """LPIPS v0.1 in float64 straight from the state dicts: per-channel scaling, the backbone up to
    the five ReLUs, unit-normalised channels (+1e-10), squared difference, head, spatial mean, sum."""
    state = {k: v.double() for k, v in torch.load(weights / "torchvision" / FILES[net], weights_only=True).items()}
    heads = torch.load(lpips_heads_file(net), weights_only=True, map_location="cpu")
    shift = torch.tensor([-0.030, -0.088, -0.188], dtype=torch.float64).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450], dtype=torch.float64).view(1, 3, 1, 1)

    def conv(x, i, stride=1, padding=1):
        return F.relu(F.conv2d(x, state[f"features.{i}.weight"], state[f"features.{i}.bias"], stride, padding))

    def taps(x):
        if net == "alex":
            r1 = conv(x, 0, 4, 2)
            r2 = conv(F.max_pool2d(r1, 3, 2), 3, 1, 2)
            r3 = conv(F.max_pool2d(r2, 3, 2), 6)
            r4 = conv(r3, 8)
            return [r1, r2, r3, r4, conv(r4, 10)]
        out, blocks, index = [], [(0, 2), (5, 7), (10, 12, 14), (17, 19, 21), (24, 26, 28)], None
        for block in blocks:
            if out:
                x = F.max_pool2d(x, 2, 2)
            for index in block:
                x = conv(x, index)
            out.append(x)
        return out

    def to_input(frames):
        return (torch.from_numpy(frames).double().permute(0, 3, 1, 2) / 127.5 - 1.0 - shift) / scale

    total = 0.0
    for k, (fa, fb) in enumerate(zip(taps(to_input(a)), taps(to_input(b)))):
        na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        total = total + F.conv2d((na - nb) ** 2, heads[f"lin{k}.model.1.weight"].double()).mean((1, 2, 3))
    return total.numpy()


@pytest.mark.parametrize("net,variant", [("alex", "lpips"), ("vgg", "lpips-vgg")])
def test_the_metric_equals_a_float64_recomputation(net, variant, weights, mini):
    from metrics import create_metric

    clip = mini.clips()[1]
    reference = clip.load_frames()[:5]
    rng = np.random.default_rng(7)
    generated = np.clip(reference.astype(int) + rng.integers(-40, 41, reference.shape), 0, 255).astype(np.uint8)
    generated[2] = reference[2]  # one identical frame: distance 0
    settings = Settings.create(weights_dir=weights)
    metric = create_metric(variant, settings)
    value = metric.update(ClipContext(clip, Video(generated, 25.0), reference, settings=settings)).value
    expected = _by_hand(net, weights, generated, reference)
    assert expected[2] == pytest.approx(0.0, abs=1e-12) and expected.min() >= 0
    assert value == pytest.approx(float(expected.mean()), rel=1e-4)
    assert metric.spec.params["net"] == net and metric.spec.params["input_range"].startswith("[-1, 1]")


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None,
    reason="torchvision does not import here (this CPU torch has no matching wheel), so the lpips "
    "package's own module cannot be built; the float64 recomputation above is the oracle",
)
@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_the_lpips_package_gives_the_same_distances(net, weights):
    import lpips

    reference = lpips.LPIPS(net=net, version="0.1", pretrained=True, pnet_rand=True, verbose=False).eval()
    state = torch.load(weights / "torchvision" / FILES[net], weights_only=True)
    for k in range(1, reference.net.N_slices + 1):  # the package's slices reuse torchvision's feature indices
        for name, module in getattr(reference.net, f"slice{k}").named_children():
            if isinstance(module, torch.nn.Conv2d):
                module.weight.data.copy_(state[f"features.{name}.weight"])
                module.bias.data.copy_(state[f"features.{name}.bias"])
    ours = LPIPSNet(net, weights)
    rng = np.random.default_rng(1)
    a, b = (torch.from_numpy(rng.uniform(-1, 1, (2, 3, 64, 64))).float() for _ in range(2))
    with torch.no_grad():
        np.testing.assert_allclose(ours(a, b).numpy(), reference(a, b).flatten().numpy(), rtol=1e-5)
