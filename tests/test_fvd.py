"""FVD: strict loading of pytorch-i3d's state-dict layout and of a TorchScript detector with the
StyleGAN-V call signature, the Fréchet step against a float64 numpy/scipy computation, invariance
to shard order, and a mini run with random official-layout weights."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from benchmark.core.errors import BenchError
from benchmark.perception.i3d import (
    InceptionI3d,
    PytorchI3D,
    TorchscriptI3D,
    _same_padding,
    to_i3d_input,
)
from benchmark.perception.registry import get_network
from metrics.fid import GaussianSums, frechet_distance
from metrics.fvd import FVD, window_starts


def _official_keys() -> set[str]:
    """pytorch-i3d's parameter names, written out from its module layout (Unit3D: conv3d + bn)."""
    units = ["Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3"]
    mixed = ["Mixed_3b", "Mixed_3c", "Mixed_4b", "Mixed_4c", "Mixed_4d", "Mixed_4e", "Mixed_4f", "Mixed_5b", "Mixed_5c"]
    units += [f"{m}.{b}" for m in mixed for b in ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")]
    keys = {f"{u}.conv3d.weight" for u in units}
    keys |= {
        f"{u}.bn.{p}" for u in units for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    }
    return keys | {"logits.conv3d.weight", "logits.conv3d.bias"}


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    (root / "i3d").mkdir()
    torch.manual_seed(0)
    net = InceptionI3d().eval()
    torch.save(net.state_dict(), root / "i3d" / "rgb_imagenet.pt")

    class StyleGanVCall(nn.Module):
        """A TorchScript detector called as StyleGAN-V calls its i3d_torchscript.pt."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x, rescale: bool = False, resize: bool = False, return_features: bool = False):
            assert not rescale and not resize and return_features
            return self.inner(x)

    traced = torch.jit.trace(net, torch.zeros(1, 3, 16, 224, 224))
    torch.jit.script(StyleGanVCall(traced)).save(str(root / "i3d" / "i3d_torchscript.pt"))
    return root


def test_the_network_has_pytorch_i3ds_keys():
    assert set(InceptionI3d().state_dict()) == _official_keys()


def test_same_padding_is_tensorflows():
    assert _same_padding(224, 7, 2) == (2, 3) and _same_padding(16, 7, 2) == (2, 3)
    assert _same_padding(15, 3, 2) == (1, 1) and _same_padding(8, 2, 2) == (0, 0) and _same_padding(9, 2, 2) == (0, 1)


def test_strict_loading_names_a_wrong_key(weights, tmp_path):
    (tmp_path / "i3d").mkdir()
    with pytest.raises(BenchError, match="rgb_imagenet.pt"):
        PytorchI3D(tmp_path, "cpu")
    state = torch.load(weights / "i3d" / "rgb_imagenet.pt", weights_only=True)
    state["Mixed_3b.b9.conv3d.weight"] = state.pop("Mixed_3b.b0.conv3d.weight")
    torch.save(state, tmp_path / "i3d" / "rgb_imagenet.pt")
    with pytest.raises(BenchError, match="Mixed_3b.b0.conv3d.weight"):
        PytorchI3D(tmp_path, "cpu")
    (tmp_path / "i3d" / "i3d_torchscript.pt").write_bytes(b"not torchscript")
    with pytest.raises(BenchError, match="not a TorchScript file"):
        TorchscriptI3D(tmp_path, "cpu")


def test_both_formats_give_the_same_features_for_the_same_network(weights):
    clips = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (2, 16, 64, 80, 3), dtype=np.uint8))
    scripted = get_network("i3d-torchscript", "cpu", weights).features(clips)
    state_dict = get_network("pytorch-i3d", "cpu", weights).features(clips)
    assert scripted.shape == (2, 400)
    np.testing.assert_allclose(scripted.numpy(), state_dict.numpy(), rtol=1e-4, atol=1e-5)


def test_preprocessing_resizes_the_shorter_side_and_centre_crops():
    frames = torch.zeros(1, 2, 100, 200, 3, dtype=torch.uint8)
    frames[..., :, 100:, :] = 255  # right half white: after the crop, the centre column splits the halves
    x = to_i3d_input(frames)
    assert (
        x.shape == (1, 3, 2, 224, 224)
        and x.min() == pytest.approx(-1, abs=1e-6)
        and x.max() == pytest.approx(1, abs=1e-6)
    )
    # exact away from the edge; the resize's float rounding (it differs with the thread count) leaves 1 - 6e-8
    assert torch.allclose(x[..., :, :100], torch.tensor(-1.0), atol=1e-6)
    assert torch.allclose(x[..., :, 124:], torch.tensor(1.0), atol=1e-6)


def test_window_sampling():
    assert window_starts(75, 16, 1, 0, "first") == [0]
    assert window_starts(75, 16, 1, 0, "non-overlapping") == [0, 16, 32, 48]
    assert window_starts(75, 16, 2, 3, "non-overlapping") == [3, 34]  # a window spans 31 frames
    assert window_starts(15, 16, 1, 0, "first") == []


def test_frechet_step_equals_a_float64_scipy_computation():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((600, 40)) @ rng.standard_normal((40, 40))
    b = rng.standard_normal((500, 40)) * 1.5 + 0.3
    mu1, s1, mu2, s2 = a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root)
    sums_a, sums_b = GaussianSums.empty(40), GaussianSums.empty(40)
    for part in np.array_split(a, 7):
        sums_a.add(part)
    sums_b.add(b)
    assert frechet_distance(*sums_a.mean_cov(), *sums_b.mean_cov()) == pytest.approx(expected, rel=1e-9)


def test_the_state_does_not_depend_on_shard_order():
    rng = np.random.default_rng(5)
    rows = [
        {"generated": rng.standard_normal((3, 400)), "reference": rng.standard_normal((3, 400)) + 0.5} for _ in range(9)
    ]
    metric = FVD.__new__(FVD)
    metric.params = dict(FVD.default_params)
    values = []
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        shards = [metric.new_state() for _ in range(3)]
        for k, row in enumerate(rows):
            shards[k % 3].add(None, artifacts=row)
        merged = shards[order[0]].merge(shards[order[1]]).merge(shards[order[2]])
        values.append(merged.compute()["value"])
    # merge order changes float64 sums in their last bits, and 27 samples in 400 dimensions (a
    # rank-deficient covariance) amplify that to ~1e-9; records are bit-identical because the engine
    # reduces rows in protocol order (tests/test_engine.py)
    assert values[0] == pytest.approx(values[1], rel=1e-7) and values[0] == pytest.approx(values[2], rel=1e-7)
    assert merged.compute()["windows_generated"] == 27
