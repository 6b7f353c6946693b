"""fan landmarks, facenet-vggface2 and arcface embedders: official key layouts, strict loading from the
weights folder, clear messages when the file is missing, and a run on real mini frames."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from benchmark.errors import BenchError
from benchmark.perception import embedders, user_weights
from benchmark.perception import fan as fan_module
from benchmark.perception.embedders import ArcfaceEmbedder, FacenetEmbedder, InceptionResnetV1, IResNet
from benchmark.perception.fan import FAN, FanLandmarks, heatmap_peaks
from benchmark.perception.registry import get_landmark_backend


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def test_backends_are_registered_by_name_in_one_place():
    from benchmark.errors import UnknownNameError
    from benchmark.perception.registry import EMBEDDERS, LANDMARK_BACKENDS

    assert LANDMARK_BACKENDS.names() == ["dlib68", "dlib68-up0", "fan", "mediapipe"]
    assert EMBEDDERS.names() == ["arcface", "dlib-resnet", "facenet-vggface2"]
    assert LANDMARK_BACKENDS.get("fan") is FanLandmarks and FanLandmarks.reads_weights
    assert EMBEDDERS.get("arcface") is ArcfaceEmbedder and not EMBEDDERS.get("dlib-resnet").reads_weights
    with pytest.raises(UnknownNameError, match="Did you mean 'mediapipe'"):
        get_landmark_backend("mediapip")


def test_fan_has_face_alignments_2dfan4_keys():
    with torch.device("meta"):
        s = shapes(FAN(4))
    assert s["conv1.weight"] == (64, 3, 7, 7)
    assert s["conv2.conv1.weight"] == (64, 64, 3, 3) and s["conv2.conv3.weight"] == (32, 32, 3, 3)
    assert s["conv2.downsample.2.weight"] == (128, 64, 1, 1)
    assert s["m0.b2_plus_1.bn1.running_var"] == (256,) and "m3.b3_4.conv3.weight" in s
    assert s["l3.weight"] == (68, 256, 1, 1) and s["al2.weight"] == (256, 68, 1, 1) and "bl3.weight" not in s


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
    for make, name in ((FanLandmarks, "fan/2DFAN4-11f355bf06.pth.tar"), (FacenetEmbedder, "facenet/20180402-114759-vggface2.pt"),
                       (ArcfaceEmbedder, "arcface/backbone.pth")):
        with pytest.raises(BenchError, match="nothing is downloaded") as err:
            make(tmp_path)
        assert str(tmp_path / name) in str(err.value)


def test_fan_file_must_match_the_published_hash(tmp_path):
    (tmp_path / "fan").mkdir()
    torch.save({"x": torch.zeros(1)}, tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar")
    with pytest.raises(BenchError, match="is not the published 2DFAN4"):
        FanLandmarks(tmp_path)


def test_heatmap_peaks_refine_towards_the_larger_neighbour():
    hm = np.zeros((68, 64, 64), dtype=np.float32)
    hm[:, 20, 30] = 1.0
    hm[:, 20, 31] = 0.5  # right neighbour larger than the left: +0.25 in x
    hm[:, 19, 30] = 0.3  # upper neighbour larger: −0.25 in y
    peaks = heatmap_peaks(hm)
    np.testing.assert_allclose(peaks[0], [31 + 0.25 - 0.5, 21 - 0.25 - 0.5])


@pytest.fixture()
def frames(mini):
    return mini.clips()[0].load_frames()[:4]


def test_fan_runs_on_real_frames_with_official_format_weights(frames, tmp_path, monkeypatch):
    monkeypatch.setattr(fan_module, "FAN_2D", dataclasses.replace(user_weights.FAN_2D, sha256_prefix=None))
    (tmp_path / "fan").mkdir()
    torch.manual_seed(0)
    torch.save({f"module.{k}": v for k, v in FAN(4).state_dict().items()}, tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar")
    fan = FanLandmarks(tmp_path)
    track = fan.detect(frames)
    boxes = get_landmark_backend("mediapipe").detect(frames)
    assert track.points.shape == (4, 68, 2) and np.array_equal(track.found, boxes.found) and track.found.all()
    assert track.backend.startswith("fan-2DFAN4-") and "mediapipe" in track.backend
    # random weights put the points anywhere, but always inside the face crop around the mesh's box
    assert np.all(np.abs(track.points - boxes.points.mean(1, keepdims=True)) < 256)
    # batched on the device: the same points as one frame at a time
    one_by_one = np.concatenate([fan.detect(frames[t:t + 1]).points for t in range(len(frames))])
    np.testing.assert_allclose(track.points, one_by_one, atol=1.0)


@pytest.mark.parametrize("cls,net,folder,file", [
    (FacenetEmbedder, InceptionResnetV1, "facenet", "20180402-114759-vggface2.pt"),
    (ArcfaceEmbedder, IResNet, "arcface", "backbone.pth"),
])
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
