"""LSE's syncnet_python variants: tracker, crop, MFCC, windows and offsets against independent float64
computations; the 25 fps refusal; the short-clip failure reason; and what an h264 round trip does.

SyncNet weights here are random tensors in the official layout (as in test_lse_acd.py): the plumbing
is tested, the magnitudes of the scores mean nothing.
"""

from pathlib import Path

import numpy as np
import pytest
import torch

from benchmark.core.errors import ClipError
from benchmark.core.media import read_wav, write_wav
from benchmark.perception.syncnet import SyncNet
from benchmark.core.settings import Settings
from benchmark.core.types import Clip
from benchmark.core.video import Video
from metrics import METRICS, family_of
from metrics import lse_syncnet_python as sp
from metrics.context import ClipContext
from metrics.lse import LSEC, LSED, offset_distances, sync_scores


def _random_syncnet(seed=0) -> SyncNet:
    torch.manual_seed(seed)
    net = SyncNet()
    for m in net.modules():  # BatchNorm statistics away from 0/1, as in a trained file
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.BatchNorm3d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return net.eval()


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("weights")
    torch.save(_random_syncnet().state_dict(), folder / "syncnet_v2.model")
    return folder


# ---- naming and parameters ---------------------------------------------------------------------


def test_variants_are_named_and_record_the_pipeline_parameters(weights):
    assert family_of("lse-c-syncnet-python") == "lse-c" and family_of("lse-d-syncnet-python") == "lse-d"
    settings = Settings.create(weights_dir=weights)
    for name, cls in (("lse-c-syncnet-python", LSEC), ("lse-d-syncnet-python", LSED)):
        spec = METRICS.get(family_of(name))(variant=name, settings=settings).spec.to_dict()
        assert spec["variant"] == name
        p = spec["params"]
        assert (
            p["pipeline"],
            p["min_track"],
            p["crop_scale"],
            p["smooth_kernel"],
            p["vshift_frames"],
            p["batch_size"],
        ) == ("syncnet_python", 100, 0.4, 13, 15, 20)
        assert "replaces S3FD" in p["face_box"] and "16-bit" in p["mfcc"] and p["min_face_coverage"] is None
        assert spec["backend"].startswith("syncnet_v2.model sha256") and "face boxes from mediapipe" in spec["backend"]
    # the default convention keeps its parameters (and so its column id and cached scores)
    default = LSEC(settings=settings)
    assert "pipeline" not in default.params and default.backend_id().startswith("syncnet_v2.model sha256")
    assert "face boxes" not in default.backend_id()


# ---- tracker -----------------------------------------------------------------------------------


def _boxes(n, box=(40.0, 30.0, 180.0, 190.0)):
    return np.tile(np.asarray(box, dtype=np.float64), (n, 1))


def test_tracker_needs_more_than_min_track_detections_and_says_so():
    kept, dropped = sp.track_faces(_boxes(101))
    assert len(kept) == 1 and not dropped and kept[0].frames.tolist() == list(range(101))
    kept, dropped = sp.track_faces(_boxes(100))  # the pipeline keeps len(track) > min_track only
    assert kept == [] and dropped == ["its face track over frames 0-99 has 100 detections, not more than min_track=100"]
    boxes = _boxes(75)
    boxes[[3, 40]] = np.nan  # frames without a face are not detections
    assert "has 73 detections" in sp.track_faces(boxes)[1][0]


def test_tracker_interpolates_gaps_and_splits_on_long_gaps_or_jumps():
    rng = np.random.default_rng(3)
    boxes = _boxes(60) + rng.uniform(-2, 2, (60, 4))
    boxes[20:30] = np.nan  # 10 missed frames: within num_failed_det=25, interpolated
    (track,), _ = sp.track_faces(boxes, min_track=10)
    assert track.frames.tolist() == list(range(60))
    for t in range(20, 30):  # linear between frames 19 and 30, by hand
        w = (t - 19) / 11
        np.testing.assert_allclose(track.boxes[t], (1 - w) * boxes[19] + w * boxes[30], atol=1e-12)

    gap = _boxes(80)
    gap[30:56] = np.nan  # 26 frames without a face: frame 56 is 27 frames after 29 > 25
    tracks, _ = sp.track_faces(gap, min_track=10)
    assert [(t.frames[0], t.frames[-1]) for t in tracks] == [(0, 29), (56, 79)]

    jump = _boxes(50)
    jump[25:] += 150  # no overlap with the previous box: a new track
    tracks, _ = sp.track_faces(jump, min_track=10)
    assert [(t.frames[0], t.frames[-1]) for t in tracks] == [(0, 24), (25, 49)]

    small, dropped = sp.track_faces(_boxes(120, (10, 10, 90, 100)))  # 90 px high: not above 100
    assert small == [] and "mean box side of 90 px, not above min_face_size=100" in dropped[0]


def test_box_iou_by_hand():
    assert sp.box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert sp.box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


# ---- crop --------------------------------------------------------------------------------------


def _medfilt_zero_padded(x, k):
    padded = np.concatenate([np.zeros(k // 2), x, np.zeros(k // 2)])
    return np.array([np.sort(padded[i : i + k])[k // 2] for i in range(len(x))])


def _bilinear_half_pixel(img, size=224):
    """Float64 bilinear resize with half-pixel centres and clamped borders (cv2 INTER_LINEAR's geometry)."""
    h, w = img.shape[:2]

    def axis(n_in):
        src = (np.arange(size) + 0.5) * n_in / size - 0.5
        src = np.clip(src, 0, None)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, fy = axis(h)
    x0, x1, fx = axis(w)
    img = img.astype(np.float64)
    top = img[y0][:, x0] * (1 - fx)[None, :, None] + img[y0][:, x1] * fx[None, :, None]
    bottom = img[y1][:, x0] * (1 - fx)[None, :, None] + img[y1][:, x1] * fx[None, :, None]
    return top * (1 - fy)[:, None, None] + bottom * fy[:, None, None]


@pytest.mark.parametrize("height,width,n", [(96, 128, 20), (200, 160, 31), (256, 256, 45)])
def test_crop_matches_an_independent_float64_crop(height, width, n):
    rng = np.random.default_rng(height)
    frames = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    side = min(height, width) * 0.5
    centre = np.array([width / 2, height / 2]) + rng.uniform(-8, 8, (n, 2))
    boxes = np.concatenate([centre - side / 2, centre + side / 2], axis=1) + rng.uniform(-3, 3, (n, 4))
    track = sp.FaceTrack(np.arange(n), boxes)
    crops = sp.crop_track(frames, track, crop_scale=0.4, kernel=13)
    assert crops.shape == (n, 224, 224, 3) and crops.dtype == np.uint8

    s = _medfilt_zero_padded(np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2, 13)
    y = _medfilt_zero_padded((boxes[:, 1] + boxes[:, 3]) / 2, 13)
    x = _medfilt_zero_padded((boxes[:, 0] + boxes[:, 2]) / 2, 13)
    for t in range(n):
        pad = int(s[t] * 1.8)
        bgr = np.pad(frames[t][..., ::-1], ((pad, pad), (pad, pad), (0, 0)), constant_values=110)
        face = bgr[
            int(y[t] + pad - s[t]) : int(y[t] + pad + 1.8 * s[t]),
            int(x[t] + pad - 1.4 * s[t]) : int(x[t] + pad + 1.4 * s[t]),
        ]
        expected = _bilinear_half_pixel(face)
        diff = np.abs(crops[t].astype(np.float64) - expected)
        assert diff.max() <= 1.0, (t, diff.max())  # cv2 rounds its fixed-point weights: at most one level


# ---- audio -------------------------------------------------------------------------------------


def test_mfcc_is_python_speech_features_on_16_bit_samples(tmp_path):
    from python_speech_features import mfcc
    from scipy.io import wavfile

    rng = np.random.default_rng(5)
    audio = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000) + 0.05 * rng.standard_normal(16000)).astype(
        np.float32
    )
    write_wav(tmp_path / "a.wav", audio, 16000)
    rate, pcm = wavfile.read(tmp_path / "a.wav")  # what the pipeline reads: int16
    assert pcm.dtype == np.int16
    ours = sp.mfcc_16k(sp.int16_audio_16k(*read_wav(tmp_path / "a.wav")))
    oracle = mfcc(pcm, rate).T
    assert ours.shape == oracle.shape == (13, 99)
    np.testing.assert_allclose(ours, oracle, rtol=0, atol=1e-9)
    # the float [-1, 1] convention (the default lse before it read 16-bit values) moves only c0, by log(32768^2)
    floated = mfcc(pcm / 32768.0, rate).T
    np.testing.assert_allclose(oracle[0] - floated[0], 2 * np.log(32768), atol=1e-6)
    np.testing.assert_allclose(oracle[1:], floated[1:], atol=1e-6)
    resampled = sp.int16_audio_16k(audio[: 22050 // 2].astype(np.float64), 22050)  # other rates: to 16 kHz
    assert len(resampled) == 8000 and np.all(resampled == np.round(resampled)) and np.abs(resampled).max() <= 32768


# ---- windows, batches and offsets --------------------------------------------------------------


def test_window_count_is_the_pipeline_s():
    assert sp.n_windows(75, 75 * 640) == 70
    assert sp.n_windows(75, 75 * 640 - 1) == 69  # floor(samples / 640)
    assert sp.n_windows(75, 200 * 640) == 70
    from python_speech_features import mfcc

    steps = mfcc(np.ones(75 * 640), 16000).shape[0]  # 299 steps: enough for the last window's 20
    assert steps >= 4 * (sp.n_windows(75, 75 * 640) - 1) + 20


def _numpy_offset_distances(lip, audio, vshift=15):
    """float64 calc_pdist + mean: lip[i] vs audio[i + k - vshift], zero vectors past either end."""
    n, d = lip.shape
    out = np.zeros(2 * vshift + 1)
    for k in range(2 * vshift + 1):
        for i in range(n):
            j = i + k - vshift
            other = audio[j] if 0 <= j < n else np.zeros(d)
            out[k] += np.linalg.norm(lip[i] - other + 1e-6)  # pairwise_distance's eps
    return out / n


@pytest.mark.parametrize("n_frames,batch", [(12, 20), (16, 4)])
def test_batched_windows_and_offsets_match_window_by_window_float64(n_frames, batch):
    net = _random_syncnet(1)
    rng = np.random.default_rng(n_frames)
    crops = rng.integers(0, 256, (n_frames, 224, 224, 3), dtype=np.uint8)
    samples = np.round(rng.uniform(-8000, 8000, n_frames * 640 + 300))
    lips, audios = sp.track_features(net, crops, samples, "cpu", batch_size=batch)
    n = n_frames - 5
    assert lips.shape == audios.shape == (n, 1024)

    from python_speech_features import mfcc

    net64 = _random_syncnet(1).double()
    video = torch.from_numpy(crops).permute(3, 0, 1, 2).double()
    cc = torch.from_numpy(mfcc(samples, 16000).T)
    with torch.no_grad():
        lips64 = torch.cat([net64.forward_lips(video[None, :, i : i + 5]) for i in range(n)]).numpy()
        audio64 = torch.cat([net64.forward_audio(cc[None, None, :, 4 * i : 4 * i + 20]) for i in range(n)]).numpy()
    scale = np.abs(lips64).max()
    np.testing.assert_allclose(lips.numpy(), lips64, atol=1e-4 * scale)
    np.testing.assert_allclose(audios.numpy(), audio64, atol=1e-4 * np.abs(audio64).max())

    mdist = offset_distances(lips, audios).numpy()
    expected = _numpy_offset_distances(lips64, audio64)
    np.testing.assert_allclose(mdist, expected, rtol=1e-4)
    scores = sync_scores(torch.from_numpy(mdist))
    k = int(np.argmin(expected))
    assert scores["av_offset"] == 15 - k
    assert scores["lse_d"] == pytest.approx(expected[k], rel=1e-4)
    assert scores["lse_c"] == pytest.approx(np.median(expected) - expected[k], rel=1e-3, abs=1e-4)


# ---- 25 fps only -------------------------------------------------------------------------------


def _context(fps, n=10, settings=None):
    clip = Clip(
        id="c1",
        speaker="s",
        protocol="p",
        n_frames=n,
        fps=fps,
        size=(64, 64),
        sample_rate=16000,
        video_path=Path("/nonexistent.mp4"),
        audio_path=Path("/nonexistent.wav"),
        identity_path=Path("/nonexistent.png"),
        fingerprint="0" * 64,
    )
    frames = np.zeros((n, 64, 64, 3), dtype=np.uint8)
    return ClipContext(clip, Video(frames, fps), frames, settings=settings)


@pytest.mark.parametrize("variant", ["lse-c", "lse-d", "lse-c-syncnet-python", "lse-d-syncnet-python"])
def test_other_frame_rates_are_refused_with_the_fix(variant):
    settings = Settings.create()
    metric = METRICS.get(family_of(variant))(variant=variant if "python" in variant else None, settings=settings)
    with pytest.raises(ClipError) as info:
        metric.score_clip(_context(30, settings=settings))
    message = info.value.message
    assert "\n" not in message and "30 fps, SyncNet needs 25" in message and "-r 25" in message and variant in message


# ---- end to end on the mini protocol -----------------------------------------------------------


def test_short_clips_fail_with_the_tracker_reason_and_score_with_min_track_lowered(mini_data_root, tmp_path, weights):
    from benchmark.core.records import load_rows
    from benchmark.engine.runner import RunConfig, Runner
    from protocols.mini import MiniProtocol

    config = RunConfig(
        model="ground-truth",
        dataset="mini",
        metrics=("lse-c", "lse-c-syncnet-python", "lse-d-syncnet-python"),
        limit=1,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        weights_dir=weights,
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    (row,) = load_rows(outcome.run_dir)
    n = row["n_frames"]
    assert n <= 100 and row["outcomes"]["lse-c"] == {"status": "ok"}
    for variant in ("lse-c-syncnet-python", "lse-d-syncnet-python"):
        outcome_ = row["outcomes"][variant]
        assert outcome_["status"] == "failed"
        assert f"keeps no track of this {n}-frame clip" in outcome_["reason"]
        assert "not more than min_track=100" in outcome_["reason"] and "lse-" in outcome_["reason"]
    specs = {m["variant"]: m for m in outcome.record["metrics"]}
    assert specs["lse-c-syncnet-python"]["params"]["min_track"] == 100

    # the same clip with the rule lowered (a parameter, recorded like the rest): scored through the pipeline
    settings = Settings.create(weights_dir=weights)
    clip = next(c for c in MiniProtocol(mini_data_root).clips() if c.id == row["clip_id"])
    frames = clip.load_frames()
    ctx = ClipContext(clip, Video(frames, clip.fps), frames, settings=settings)
    lowered = LSEC("lse-c-syncnet-python", settings, min_track=10, min_face_size=0)
    value = lowered.score_clip(ctx)
    (track,) = value.extras["tracks"]
    assert track["frames"] == [0, n - 1] and track["windows"] == n - 5  # the mini's audio is n * 640 samples
    assert value.value >= 0 and value.value == pytest.approx(track["lse_c"])
    assert lowered.spec.to_dict()["params"]["min_track"] == 10


# ---- codec round trip --------------------------------------------------------------------------


def _synthetic_talking_clip(n=40, size=160, seed=0):
    """A face-like blob whose mouth opening follows the loudness of an amplitude-modulated tone."""
    rng = np.random.default_rng(seed)
    envelope = 0.5 + 0.5 * np.sin(np.arange(n) * 2 * np.pi / 9)
    t = np.arange(n * 640) / 16000
    audio = 0.4 * np.repeat(envelope, 640) * np.sin(2 * np.pi * 180 * t) + 0.01 * rng.standard_normal(len(t))
    yy, xx = np.mgrid[:size, :size]
    frames = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        face = ((xx - size / 2) / (0.32 * size)) ** 2 + ((yy - size / 2) / (0.4 * size)) ** 2 < 1
        mouth = ((xx - size / 2) / (0.12 * size)) ** 2 + (
            (yy - 0.68 * size) / (0.01 * size + 0.05 * size * envelope[i])
        ) ** 2 < 1
        image = np.stack([60 + 0.3 * xx, 80 + 0.2 * yy, 100 + 0 * xx], axis=-1)
        image[face] = (200, 160, 140)
        image[mouth] = (90, 30, 40)
        frames[i] = np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)
    box = (0.18 * size, 0.1 * size, 0.82 * size, 0.9 * size)
    return frames, np.clip(np.round(audio * 32768), -32768, 32767), sp.FaceTrack(np.arange(n), _boxes(n, box))


def _h264_round_trip(frames, crf=23):
    """Encode with PyAV's libx264 (crf, yuv420p, one thread) and decode back to RGB; (frames, bytes).

    Not byte-reproducible: with av 18.1 the same frames gave 4764 bytes on a process's first encode
    and 4.8-6.0 kB on encodes after any h264 decode in that process, so the test bounds the shift
    rather than pinning it."""
    from fractions import Fraction

    import av

    encoder = av.CodecContext.create("libx264", "w")
    encoder.width, encoder.height = frames.shape[2], frames.shape[1]
    encoder.pix_fmt, encoder.time_base = "yuv420p", Fraction(1, 25)
    encoder.options = {"crf": str(crf), "threads": "1"}
    chunks = []  # bytes copied at once: a packet's buffer is not safe to read after later encode calls
    pictures = [av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p") for image in frames]
    for i, frame in enumerate(pictures):  # all kept alive until the encoder is flushed (it looks ahead)
        frame.pts = i
        chunks += [bytes(p) for p in encoder.encode(frame)]
    chunks += [bytes(p) for p in encoder.encode(None)]
    stream = b"".join(chunks)
    decoder = av.CodecContext.create("h264", "r")
    parsed = decoder.parse(stream) + decoder.parse(None)  # None flushes the parser's last packet
    decoded = [f for packet in parsed for f in decoder.decode(packet)] + decoder.decode(None)
    return np.stack([f.to_ndarray(format="rgb24") for f in decoded]), len(stream)


def test_h264_round_trip_shift_is_measured_and_bounded(capsys):
    """Re-encoding (h264, crf 23, yuv420p) moves the lip features and so the scores; the audio side is
    untouched. Whatever the weights, |dLSE-D| <= mean_t |dlip_t| and |dLSE-C| <= 2 mean_t |dlip_t|
    (triangle inequality per offset): the measured shift is reported against that bound."""
    net = _random_syncnet(2)
    frames, samples, track = _synthetic_talking_clip()
    decoded, n_bytes = _h264_round_trip(frames)
    assert decoded.shape == frames.shape
    assert n_bytes < frames.nbytes / 20  # really compressed
    mse = np.mean((decoded.astype(np.float64) - frames) ** 2)
    psnr = 10 * np.log10(255**2 / mse)
    assert 25 < psnr < 60  # lossy, but the same picture

    scores, features = {}, {}
    for name, video in (("original", frames), ("h264-crf23", decoded)):
        lips, audio = sp.track_features(net, sp.crop_track(video, track), sp.track_audio(samples, track), "cpu")
        features[name] = (lips, audio)
        scores[name] = sync_scores(offset_distances(lips, audio))
    (lip_a, aud_a), (lip_b, aud_b) = features["original"], features["h264-crf23"]
    assert torch.equal(aud_a, aud_b)
    lip_shift = float((lip_a - lip_b).norm(dim=1).mean())
    shift = {k: scores["h264-crf23"][k] - scores["original"][k] for k in ("lse_c", "lse_d")}
    with capsys.disabled():
        print(
            f"\nh264 crf 23 round trip ({n_bytes} bytes, PSNR {psnr:.1f} dB), random SyncNet weights (magnitudes meaningless): "
            f"LSE-C {scores['original']['lse_c']:.4f} -> {scores['h264-crf23']['lse_c']:.4f} ({shift['lse_c']:+.4f}), "
            f"LSE-D {scores['original']['lse_d']:.4f} -> {scores['h264-crf23']['lse_d']:.4f} ({shift['lse_d']:+.4f}), "
            f"mean lip-feature shift {lip_shift:.4f}"
        )
    assert lip_shift > 0  # re-encoding is seen by the network
    slack = 1e-5 * max(scores["original"]["lse_d"], 1.0)  # float32 rounding of the distances
    assert abs(shift["lse_d"]) <= lip_shift + slack
    assert abs(shift["lse_c"]) <= 2 * lip_shift + 2 * slack
