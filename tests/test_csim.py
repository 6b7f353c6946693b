"""CSIM: ArcFace cosine similarity to the identity image, aligned (default) and unaligned (ViCo), on
official-layout random weights; checked against a float64 recomputation from the network itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from benchmark.core.errors import BenchError
from benchmark.perception.embedders import ArcfaceEmbedder, IResNet
from benchmark.perception.registry import get_landmark_backend
from benchmark.core.settings import Settings
from benchmark.core.video import Video
from metrics import create_metric
from metrics.context import ClipContext
from metrics.csim import cosine_similarities


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    (root / "arcface").mkdir()
    torch.manual_seed(3)
    torch.save(IResNet().state_dict(), root / "arcface" / "backbone.pth")
    return root


@pytest.fixture(scope="module")
def clip_and_frames(mini):
    clip = mini.clips()[0]
    return clip, clip.load_frames()[:6]


def _context(clip, generated, reference, weights):
    settings = Settings.create(weights_dir=weights)
    return ClipContext(clip, Video(generated, 25.0), reference, settings=settings), settings


def test_cosine_similarity_is_float64_and_skips_faceless_rows():
    rng = np.random.default_rng(0)
    rows, anchor = rng.standard_normal((5, 8)), rng.standard_normal(8)
    rows[2] = np.nan
    expected = [float(np.dot(r, anchor) / np.sqrt(np.dot(r, r) * np.dot(anchor, anchor))) for r in rows[[0, 1, 3, 4]]]
    np.testing.assert_allclose(cosine_similarities(rows, anchor), expected, rtol=1e-12)
    assert cosine_similarities(rows[[0]], rows[0])[0] == pytest.approx(1.0, abs=1e-12)


def test_missing_arcface_weights_stop_before_any_clip(tmp_path):
    with pytest.raises(BenchError, match="arcface/backbone.pth"):
        create_metric("csim", Settings.create(weights_dir=tmp_path))


def test_the_identity_repeated_scores_one_and_the_reference_is_recomputed_exactly(clip_and_frames, weights):
    clip, frames = clip_and_frames
    identity = clip.load_identity()
    still = np.repeat(identity[None], len(frames), axis=0)
    ctx, settings = _context(clip, still, frames, weights)
    metric = create_metric("csim", settings)
    result = metric.update(ctx)
    assert result.value == pytest.approx(1.0, abs=1e-5)
    assert metric.spec.params["alignment"] == "arcface-5-point-112" and "arcface-" in metric.spec.backend

    # the ground truth's CSIM, recomputed here from the embedder and landmarks in float64
    embedder = ArcfaceEmbedder(weights)
    landmarks = get_landmark_backend("mediapipe")
    track, anchor_track = landmarks.detect(frames), landmarks.detect(identity[None])
    rows = embedder.embed(frames, track.points, track.found).astype(np.float64)
    anchor = embedder.embed(identity[None], anchor_track.points, anchor_track.found)[0].astype(np.float64)
    expected = np.mean([r @ anchor / np.linalg.norm(r) / np.linalg.norm(anchor) for r in rows if np.isfinite(r).all()])
    state = metric.compute()
    assert state["reference_value"] == pytest.approx(expected, abs=1e-6)


def test_unaligned_embeds_the_whole_frame_resized(clip_and_frames, weights):
    clip, frames = clip_and_frames
    generated = frames[::-1].copy()
    ctx, settings = _context(clip, generated, frames, weights)
    value = create_metric("csim-unaligned", settings).update(ctx).value
    net = ArcfaceEmbedder(weights).net.double()

    def embed(image):
        x = cv2.resize(image, (112, 112), interpolation=cv2.INTER_LINEAR).astype(np.float64)
        with torch.no_grad():
            return F.normalize(net(torch.from_numpy((x / 255.0 - 0.5) / 0.5).permute(2, 0, 1)[None]), dim=1)[0].numpy()

    anchor = embed(clip.load_identity())
    expected = np.mean([embed(f) @ anchor for f in generated])
    assert value == pytest.approx(expected, abs=1e-4)  # float32 network vs this float64 one
    aligned = create_metric("csim", settings).update(_context(clip, generated, frames, weights)[0]).value
    assert (
        abs(aligned - value) > 1e-6
    )  # two conventions, two numbers (random weights: both near 1, float32 noise ~1e-7)
