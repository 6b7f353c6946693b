"""fan landmarks (through the face-alignment package), facenet-vggface2 and arcface embedders: official
key layouts, strict loading from the weights folder, clear messages when the file is missing, and a
run on real mini frames."""

from __future__ import annotations

import dataclasses
import shutil

import face_alignment
import numpy as np
import pytest
import torch
from face_alignment.models import FAN as PackageFAN

from benchmark.core.errors import BenchError
from benchmark.perception import embedders, user_weights
from benchmark.perception import fan as fan_module
from benchmark.perception.embedders import ArcfaceEmbedder, FacenetEmbedder, InceptionResnetV1, IResNet
from benchmark.perception.face_geometry import face_box_from_landmarks
from benchmark.perception.fan import FanLandmarks, FanS3fdLandmarks
from benchmark.perception.registry import get_landmark_backend


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_backends_are_registered_by_name_in_one_place():
    from benchmark.core.errors import UnknownNameError
    from benchmark.perception.registry import EMBEDDERS, LANDMARK_BACKENDS

    assert LANDMARK_BACKENDS.names() == ["dlib68", "dlib68-up0", "fan", "fan-s3fd", "mediapipe"]
    assert EMBEDDERS.names() == ["arcface", "dlib-resnet", "facenet-vggface2"]
    assert LANDMARK_BACKENDS.get("fan") is FanLandmarks and FanLandmarks.reads_weights
    assert EMBEDDERS.get("arcface") is ArcfaceEmbedder and not EMBEDDERS.get("dlib-resnet").reads_weights
    with pytest.raises(UnknownNameError, match="Did you mean 'mediapipe'"):
        get_landmark_backend("mediapip")


def test_facenet_and_arcface_have_the_official_keys():
    with torch.device("meta"):
        f, a = shapes(InceptionResnetV1()), shapes(IResNet())
    assert f["conv2d_1a.conv.weight"] == (32, 3, 3, 3) and f["conv2d_1a.bn.running_mean"] == (32,)
    assert f["repeat_1.4.branch2.2.conv.weight"] == (32, 32, 3, 3) and f["repeat_1.0.conv2d.weight"] == (256, 96, 1, 1)
    assert f["repeat_2.9.branch1.1.conv.weight"] == (128, 128, 1, 7)
    assert f["mixed_7a.branch2.2.conv.weight"] == (256, 256, 3, 3) and f["block8.conv2d.weight"] == (1792, 384, 1, 1)
    assert f["last_linear.weight"] == (512, 1792) and f["logits.weight"] == (8631, 512)
    assert a["conv1.weight"] == (64, 3, 3, 3) and a["prelu.weight"] == (64,)
    assert a["layer3.29.conv2.weight"] == (256, 256, 3, 3) and "layer3.30.bn1.weight" not in a
    assert a["layer4.0.downsample.0.weight"] == (512, 256, 1, 1) and a["fc.weight"] == (512, 25088)
    assert a["features.running_var"] == (512,)


def test_missing_user_weights_name_the_file(tmp_path):
    for make, name in (
        (FanLandmarks, "fan/2DFAN4-11f355bf06.pth.tar"),
        (FacenetEmbedder, "facenet/20180402-114759-vggface2.pt"),
        (ArcfaceEmbedder, "arcface/backbone.pth"),
    ):
        with pytest.raises(BenchError, match="nothing is downloaded") as err:
            make(tmp_path)
        assert str(tmp_path / name) in str(err.value)


def test_fan_file_must_match_the_published_hash(tmp_path):
    (tmp_path / "fan").mkdir()
    torch.save({"x": torch.zeros(1)}, tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar")
    with pytest.raises(BenchError, match="is not the published 2DFAN4"):
        FanLandmarks(tmp_path)


def test_fan_file_face_alignment_cannot_load_is_one_message_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    (tmp_path / "fan").mkdir()
    state = PackageFAN(4).state_dict()
    del state["conv1.weight"]
    torch.save(state, tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar")
    with pytest.raises(BenchError, match="face-alignment cannot load it") as err:
        FanLandmarks(tmp_path)
    assert str(tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar") in str(err.value)


@pytest.fixture()
def frames(mini):
    return mini.clips()[0].load_frames()[:4]


def _random_fan_file(folder, seed=0):
    """A 2DFAN4 state dict in the released layout (face-alignment's own FAN), random weights and BN statistics."""
    torch.manual_seed(seed)
    net = PackageFAN(4)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # heatmaps that differ from point to point
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    (folder / "fan").mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), folder / "fan" / "2DFAN4-11f355bf06.pth.tar")
    return folder / "fan" / "2DFAN4-11f355bf06.pth.tar"


def _package_points(weight_file, hub, frame, box):
    """face-alignment used the way a paper's script uses it: its files in torch hub's checkpoints folder."""
    (hub / "checkpoints").mkdir(parents=True, exist_ok=True)
    shutil.copy(weight_file, hub / "checkpoints" / weight_file.name)
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(hub))
    try:
        fa = face_alignment.FaceAlignment(
            face_alignment.LandmarksType.TWO_D, device="cpu", flip_input=False, face_detector="folder", compile=False
        )
    finally:
        torch.hub.set_dir(previous)
    return fa.get_landmarks_from_image(frame, detected_faces=[box])[0]


def test_fan_runs_through_face_alignment_on_official_format_weights(frames, tmp_path, monkeypatch):
    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    weight_file = _random_fan_file(tmp_path)
    hub_before = torch.hub.get_dir()
    fan = FanLandmarks(tmp_path)
    assert torch.hub.get_dir() == hub_before  # the private hub folder is gone, the user's is untouched
    track = fan.detect(frames)
    boxes = get_landmark_backend("mediapipe").detect(frames)
    assert track.points.shape == (4, 68, 2) and np.array_equal(track.found, boxes.found) and track.found.all()
    assert track.backend.startswith("fan-2DFAN4-") and "face-alignment 1.5.0" in track.backend
    assert "flip_input off" in track.backend and "mediapipe" in track.backend
    for t in (0, 3):  # the package's own API on the same box, moved to 0-based pixel centres
        box = np.array(face_box_from_landmarks(boxes.points[t]))
        expected = _package_points(weight_file, tmp_path / "hub", frames[t], box) - 1.0
        np.testing.assert_array_equal(track.points[t], expected)
    assert len(np.unique(track.points[0].round(), axis=0)) > 20  # not one heatmap peak for every point


def test_fan_s3fd_uses_the_packages_detector_and_the_largest_face(frames, tmp_path, monkeypatch):
    from face_alignment.detection.sfd.net_s3fd import s3fd

    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    monkeypatch.setattr(fan_module, "S3FD", dataclasses.replace(user_weights.S3FD, sha256_prefix=None))
    with pytest.raises(BenchError, match="2DFAN4-11f355bf06.pth.tar .* and s3fd-619a316812.pth"):
        FanS3fdLandmarks(tmp_path)  # both files named in one message, nothing downloaded
    _random_fan_file(tmp_path)
    with pytest.raises(BenchError, match="s3fd-619a316812.pth"):
        FanS3fdLandmarks(tmp_path)
    torch.manual_seed(0)
    torch.save(s3fd().state_dict(), tmp_path / "fan" / "s3fd-619a316812.pth")
    fan = FanS3fdLandmarks(tmp_path)
    assert "S3FD" in fan.version() and "largest" in fan.version()
    track = fan.detect(frames[:1])  # random detector weights: any number of boxes, but it runs end to end
    assert track.points.shape == (1, 68, 2) and track.found[0] == np.isfinite(track.points[0]).all()

    mesh = get_landmark_backend("mediapipe").detect(frames[:1]).points[0]
    face = np.array(face_box_from_landmarks(mesh))
    small = np.array([10.0, 10.0, 40.0, 40.0])
    monkeypatch.setattr(
        fan.aligner.face_detector, "detect_from_image", lambda image: [np.r_[small, 0.99], np.r_[face, 0.9]]
    )
    reference = FanLandmarks(tmp_path).detect(frames[:1])
    np.testing.assert_array_equal(fan.detect(frames[:1]).points, reference.points)
    monkeypatch.setattr(fan.aligner.face_detector, "detect_from_image", lambda image: [])
    assert not fan.detect(frames[:1]).found.any()


@pytest.mark.parametrize(
    "cls,net,folder,file",
    [
        (FacenetEmbedder, InceptionResnetV1, "facenet", "20180402-114759-vggface2.pt"),
        (ArcfaceEmbedder, IResNet, "arcface", "backbone.pth"),
    ],
)
def test_embedders_give_unit_vectors_on_real_frames(cls, net, folder, file, frames, tmp_path):
    (tmp_path / folder).mkdir()
    torch.manual_seed(0)
    state = net().state_dict()
    torch.save(state, tmp_path / folder / file)
    track = get_landmark_backend("mediapipe").detect(frames)
    found = track.found.copy()
    found[1] = False
    embedder = cls(tmp_path)
    emb = embedder.embed(frames, track.points, found)
    assert emb.shape == (4, 512) and np.isnan(emb[1]).all()
    np.testing.assert_allclose(np.linalg.norm(emb[[0, 2, 3]], axis=1), 1.0, rtol=1e-5)
    embedder.batch = 2  # several batches, one copy back: the same rows
    np.testing.assert_allclose(embedder.embed(frames, track.points, found), emb, atol=1e-5)
    del state[next(iter(state))]
    torch.save(state, tmp_path / folder / file)
    with pytest.raises(BenchError, match="missing key"):
        cls(tmp_path)


def test_arcface_chip_puts_the_eyes_on_the_template(frames):
    track = get_landmark_backend("mediapipe").detect(frames[:1])
    chip = embedders.arcface_chip(frames[0], track.points[0])
    assert chip.shape == (112, 112, 3)
    # landmarks of the chip itself land near the template's eye centres
    chip_track = get_landmark_backend("mediapipe").detect(np.ascontiguousarray(cv2_resize(chip, 224))[None])
    assert chip_track.found[0]
    eyes = embedders.five_points(chip_track.points[0])[:2] / 2.0
    assert np.abs(eyes - embedders.ARCFACE_TEMPLATE[:2]).max() < 4


def cv2_resize(image, size):
    import cv2

    return cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)


def test_a_run_with_fan_landmarks_records_the_face_alignment_backend(mini_data_root, tmp_path, monkeypatch):
    from benchmark.engine.runner import RunConfig, Runner

    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    _random_fan_file(tmp_path / "weights")
    config = RunConfig(
        model="ground-truth",
        dataset="mini",
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        metrics=("lmd",),
        limit=1,
        threads=1,
        landmarks="fan",
        weights_dir=tmp_path / "weights",
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    assert outcome.exit_code == 0
    (metric,) = outcome.record["metrics"]
    assert metric["params"]["landmarks"] == "fan" and "face-alignment 1.5.0" in metric["backend"]
    # ground truth against itself through the same network: zero distance
    assert outcome.record["results"]["lmd"]["value"] == 0.0
