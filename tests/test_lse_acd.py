"""LSE (SyncNet) and ACD: official checkpoint layout, the offset search, distances by hand."""

import numpy as np
import pytest
import torch

from benchmark.core.errors import BenchError
from benchmark.perception.syncnet import SyncNet, load_syncnet_state
from metrics.acd import content_distances, embedding_distance
from metrics.lse import offset_distances, sync_scores


def _official_like_state(seed=0):
    torch.manual_seed(seed)
    net = SyncNet()
    for m in net.modules():  # give BatchNorm non-trivial statistics, like a trained file
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.state_dict()


def test_syncnet_state_dict_has_the_official_layout(tmp_path):
    state = _official_like_state()
    assert len(state) == 102
    assert tuple(state["netcnnlip.0.weight"].shape) == (96, 3, 5, 7, 7)
    assert {k.split(".")[0] for k in state} == {"netcnnaud", "netfcaud", "netcnnlip", "netfclip"}
    path = tmp_path / "syncnet_v2.model"
    torch.save(state, path)
    loaded = load_syncnet_state(path)
    SyncNet().load_state_dict(loaded, strict=True)
    torch.save({f"module.{k}": v for k, v in state.items()}, path)  # DataParallel prefixes are accepted
    assert set(load_syncnet_state(path)) == set(state)


def test_a_wrong_or_missing_key_is_named(tmp_path):
    state = _official_like_state()
    path = tmp_path / "syncnet_v2.model"
    missing = dict(state)
    del missing["netfclip.3.weight"]
    torch.save(missing, path)
    with pytest.raises(BenchError, match="missing key 'netfclip.3.weight'"):
        load_syncnet_state(path)
    wrong = dict(state)
    wrong["netcnnaud.0.weight"] = torch.zeros(64, 1, 5, 5)
    torch.save(wrong, path)
    with pytest.raises(BenchError, match=r"'netcnnaud.0.weight' has shape \(64, 1, 5, 5\)"):
        load_syncnet_state(path)


def test_offset_search_finds_a_planted_shift():
    torch.manual_seed(1)
    audio = torch.randn(40, 16)
    shift = 3
    lip = torch.roll(audio, -shift, 0)  # lip[t] = audio[t + 3]
    mdist = offset_distances(lip[:30], audio[:30])
    scores = sync_scores(mdist)
    # at the true offset only the last 3 of 30 windows meet zero padding: a tenth of the typical distance
    assert scores["av_offset"] == -shift and scores["lse_d"] < 0.1 * float(mdist.median())
    assert scores["lse_c"] > 1.0


def test_lse_runs_end_to_end_with_official_format_weights(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    (tmp_path / "weights").mkdir()
    torch.save(_official_like_state(), tmp_path / "weights" / "syncnet_v2.model")
    config = RunConfig(
        model="ground-truth",
        dataset="mini",
        metrics=("lse-c", "lse-d"),
        limit=1,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        weights_dir=tmp_path / "weights",
    )
    record = Runner(config, progress=False, log=lambda s: None).run().record
    assert record["clips"]["failed"] == 0
    assert np.isfinite(record["results"]["lse-d"]["value"]) and record["results"]["lse-c"]["value"] >= 0
    assert record["metrics"][0]["backend"].startswith("syncnet_v2.model sha256")


def test_acd_distances_by_hand():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]])
    assert embedding_distance(a, b, "cosine") == pytest.approx([1.0])
    assert embedding_distance(a, b, "euclidean") == pytest.approx([np.sqrt(5)])
    emb = np.array([[1.0, 0.0], [np.nan, np.nan], [1.0, 1.0], [1.0, 1.0]])
    assert content_distances(emb, "euclidean").tolist() == [0.0]  # pairs touching a face-less frame are skipped
    assert content_distances(emb, "euclidean", anchor=np.array([1.0, 0.0])) == pytest.approx([0.0, 1.0, 1.0])


def test_acd_ground_truth_is_small_and_still_is_zero(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    results = {}
    for model in ("ground-truth", "still"):
        config = RunConfig(
            model=model, dataset="mini", metrics=("acd", "acd-e"), limit=2, data_dir=mini_data_root, runs_dir=tmp_path
        )
        results[model] = Runner(config, progress=False, log=lambda s: None).run().record["results"]
    gt, still = results["ground-truth"], results["still"]
    assert 0 < gt["acd"]["value"] < 0.02 and 0 < gt["acd-e"]["value"] < 0.2  # MAN's "good" bounds
    assert gt["acd"]["reference_value"] == gt["acd"]["value"]
    assert still["acd"]["value"] == pytest.approx(0.0, abs=1e-12) and still["acd"]["reference_value"] == pytest.approx(
        gt["acd"]["value"]
    )


def test_reference_features_are_cached_once_per_protocol_version(mini_data_root, tmp_path):
    """Landmarks, Inception features and identity embeddings of the ground truth land beside the
    prepared protocol and are reused by the next model's run."""
    from benchmark.engine.runner import RunConfig, Runner

    config = RunConfig(
        model="still", dataset="mini", metrics=("acd", "lmd"), limit=1, data_dir=mini_data_root, runs_dir=tmp_path
    )
    Runner(config, progress=False, log=lambda s: None).run()
    from protocols.mini import MiniProtocol

    features = mini_data_root / "mini" / MiniProtocol.version / "features"  # the version in use, not a literal
    assert list((features / "landmarks").rglob("*.npz")) and list((features / "embeddings").rglob("*.npz"))


def test_dlib_resnet_in_torch_gives_dlibs_own_descriptors(mini):
    """The torch port of dlib's ResNet against dlib's compute_face_descriptor(frame, shape), frame by
    frame, on mini frames, noisy, blurred and mirrored copies and another face (across a batch
    boundary, with frames where no face was found): descriptors and ACD distances agree to float32."""
    import dlib
    from scipy.ndimage import gaussian_filter
    from skimage import data

    from benchmark.perception.base import dlib_model_path
    from benchmark.perception.identity import DlibResnetEmbedder, dlib_shape
    from benchmark.perception.registry import get_landmark_backend

    frames = mini.clips()[0].load_frames()[:24]
    rng = np.random.default_rng(3)
    frames[5:9] = np.clip(frames[5:9] + rng.normal(0, 25, frames[5:9].shape), 0, 255).astype(np.uint8)
    frames[9:12] = gaussian_filter(frames[9:12], (0, 2, 2, 0))
    frames[12:15] = frames[12:15, :, ::-1]
    photo = data.astronaut()[60:316, 140:396]
    frames[15:18] = np.clip(photo + rng.normal(0, 8, (3, *photo.shape)), 0, 255).astype(np.uint8)
    track = get_landmark_backend("mediapipe").detect(frames)
    found = track.found.copy()
    found[[3, 20]] = False
    embedder = DlibResnetEmbedder()
    embedder.batch = 8  # several batches, the last one partial
    assert found[15:18].all()
    ours = embedder.embed(frames, track.points, found)
    assert np.isnan(ours[[3, 20]]).all()
    dlib_net = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))
    expected = np.full_like(ours, np.nan)
    for t in np.nonzero(found)[0]:
        expected[t] = dlib_net.compute_face_descriptor(np.ascontiguousarray(frames[t]), dlib_shape(track.points[t]))
    assert np.nanmax(np.abs(ours - expected)) < 2e-6
    for kind in ("cosine", "euclidean"):
        assert np.abs(content_distances(ours, kind) - content_distances(expected, kind)).max() < 2e-6


def test_a_damaged_dlib_network_file_is_named(tmp_path):
    from benchmark.perception.base import dlib_model_path
    from benchmark.perception.dlib_resnet import load_dlib_resnet

    whole = dlib_model_path("dlib_face_recognition_resnet_model_v1.dat").read_bytes()
    for name, damaged in (
        ("truncated.dat", whole[: len(whole) // 2]),
        ("extra.dat", whole + b"\x01\x01"),
        ("other.dat", whole[:4] + b"x" + whole[5:]),
    ):
        path = tmp_path / name
        path.write_bytes(damaged)
        with pytest.raises(BenchError, match=name):
            load_dlib_resnet(path)
