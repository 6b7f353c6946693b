"""The embedded mini protocol: shape, planted ground truth, and byte-for-byte determinism."""

import json

import numpy as np
import pytest

from benchmark.core.hashing import sha256_file
from benchmark.core.media import read_video, read_wav
from protocols.mini import MiniProtocol
from protocols.mini import choreography as C


def test_mini_has_the_promised_shape(mini):
    manifest = mini.manifest()
    clips = mini.clips()
    assert len(clips) >= 12
    assert len({c["voice"] for c in manifest["clips"]}) >= 3
    assert len({c.speaker for c in clips}) >= 3
    for clip in clips:
        assert clip.fps == 25 and clip.size == (256, 256) and clip.sample_rate == 16000
        video = read_video(clip.video_path)
        audio, rate = read_wav(clip.audio_path)
        assert video.frames.shape == (clip.n_frames, 256, 256, 3) and video.fps == 25
        assert rate == 16000 and audio.size == round(clip.n_frames / 25 * 16000)
        assert np.abs(audio).max() > 0.05  # there is speech in it


def test_planted_ground_truth_is_consistent(mini):
    n_events = n_blinks = 0
    for clip in mini.clips():
        truth = clip.load_annotations()
        lm = truth["landmarks"]
        assert lm.shape == (clip.n_frames, 68, 2)
        # aperture recorded = aperture recomputed from the planted landmarks
        recomputed = np.array([C.aperture_of(frame.astype(np.float64)) for frame in lm])
        np.testing.assert_allclose(truth["aperture"], recomputed, atol=1e-5)
        # every bilabial event closes the mouth on its frames, and the phones are /p b m/
        groups = np.split(truth["bilabial_closed_frames"], np.nonzero(truth["bilabial_closed_frames"] == -1)[0] + 1)
        frames_per_event = [g[g >= 0] for g in groups if (g >= 0).any()]
        assert len(frames_per_event) == len(truth["bilabial_start"])
        for frames, phone in zip(frames_per_event, truth["bilabial_phone"]):
            assert set(phone.split("+")) <= {"p", "b", "m"}
            assert np.all(truth["aperture"][frames] < 1e-6)
        # blinks: the eyes really close (EAR falls to 0) at each planted blink
        for onset in truth["blink_onsets"]:
            apex = onset + int(np.argmin(truth["blink_profile"]))
            upper, lower = lm[apex, [37, 38]], lm[apex, [41, 40]]
            assert np.allclose(upper, lower, atol=1e-4)
        # open eyes and open mouths elsewhere
        assert truth["aperture"].max() > 0.2
        n_events += len(frames_per_event)
        n_blinks += len(truth["blink_onsets"])
    assert n_events >= 10 and n_blinks >= 5


def test_mouth_pixels_follow_the_planted_aperture(mini):
    """The dark mouth cavity appears exactly when the planted aperture is open."""
    clip = mini.clips()[0]
    frames = clip.load_frames().astype(float)
    truth = clip.load_annotations()
    darkness = []
    for frame, lm in zip(frames, truth["landmarks"]):
        x0, y0 = lm[48:60].min(0).astype(int)
        x1, y1 = lm[48:60].max(0).astype(int)
        mouth = frame[y0 : y1 + 1, x0 : x1 + 1].mean(-1)
        darkness.append((mouth < 70).mean())
    darkness = np.array(darkness)
    corr = np.corrcoef(darkness, truth["aperture"])[0, 1]
    assert corr > 0.8, corr


@pytest.mark.slow  # a second full build of mini (about 30 s)
def test_rebuilding_gives_identical_bytes(mini, tmp_path):
    again = MiniProtocol(tmp_path)
    again.prepare()
    first, second = mini.prepared_dir, again.prepared_dir
    assert (first / "manifest.json").read_bytes() == (second / "manifest.json").read_bytes()
    manifest = json.loads((first / "manifest.json").read_text())
    for c in manifest["clips"]:
        for rel in c["files"].values():
            assert sha256_file(first / rel) == sha256_file(second / rel), rel
    assert again.fingerprint() == mini.fingerprint()


def test_the_manifest_records_the_fingerprint_bench_prepare_prints(mini):
    """One fingerprint: `bench prepare` prints the protocol's (a run's clip_list_fingerprint), and the
    manifest's `fingerprint` is that same one, not a hash of another list."""
    assert mini.manifest()["fingerprint"] == mini.fingerprint()


def test_identity_is_a_rest_frame_of_the_ground_truth(mini):
    """A model animating the identity image starts where the ground truth rests: lips together, eyes
    open. The photo itself would not do (its smile shows teeth: aperture 0.167 by the landmark
    backend, above bilabial's 0.15 open threshold, while every clip rests at 0.01-0.03)."""
    from skimage.draw import polygon

    from benchmark.core.media import read_image
    from benchmark.perception.face_geometry import eye_aspect_ratio, mouth_aperture
    from benchmark.perception.registry import get_landmark_backend
    from protocols.mini import face as F

    identity = read_image(mini.prepared_dir / "identity.png")
    planted = mini.manifest()["identity"]
    assert planted["aperture"] < 0.05 and planted["eye_openness"] == 1.0  # from truth: closed mouth, open eyes

    clip = mini.clips()[0]
    frames, truth = clip.load_frames(), clip.load_annotations()
    # at rest: mouth as in a pause, eyes open, brows down and the head neutral (mini v3's head is still
    # for its first 0.2 s, so no 3-D motion needs undoing: v2's 2-D undo cannot undo yaw or pitch)
    neutral = np.all(truth["head_motion"] == C.NEUTRAL_MOTION.astype(np.float32), axis=1)
    rest = np.nonzero(
        (np.abs(truth["aperture"] - planted["aperture"]) < 1e-5)
        & (truth["eye_openness"] == 1)
        & neutral
        & (truth["brow_lift"] == 0)
    )[0]
    assert rest.size, "the clip has frames at rest"
    # the landmark backend sees the same face: mouth closed, eyes as open as in the clip's open-eyed frames
    track = get_landmark_backend("mediapipe").detect(np.stack([identity, *frames[truth["eye_openness"] == 1]]))
    assert track.found.all()
    assert mouth_aperture(track.points[:1])[0] < 0.05
    ear = eye_aspect_ratio(track.points)
    assert abs(ear[0] - np.median(ear[1:])) < 0.1 * np.median(ear[1:]), (ear[0], np.median(ear[1:]))
    # pixels: a rest frame of the ground truth is the identity (the raw photo scores ~23.6 dB on the face
    # and ~19.5 dB on the mouth)
    landmarks = F.load_template(256).landmarks
    back = frames[rest[0]].astype(np.float64)
    face = np.zeros(identity.shape[:2], bool)
    outline = landmarks[[*range(17), *range(26, 16, -1)]]
    face[polygon(outline[:, 1], outline[:, 0], face.shape)] = True
    (x0, y0), (x1, y1) = landmarks[48:68].min(0).astype(int) - 3, landmarks[48:68].max(0).astype(int) + 3
    mouth = np.zeros_like(face)
    mouth[y0:y1, x0:x1] = True
    error = (identity.astype(np.float64) - back) ** 2
    with np.errstate(divide="ignore"):  # v3: the neutral rest frame can equal the identity exactly (infinite PSNR)
        psnr = {name: 10 * np.log10(255**2 / error[mask].mean()) for name, mask in (("face", face), ("mouth", mouth))}
    assert psnr["face"] > 35 and psnr["mouth"] > 30, psnr


def test_sigterm_to_bench_prepare_mini_ends_the_process(tmp_path):
    """`kill PID` while mini is built: it printed "interrupted" and then never exited (the pool's
    workers, started with max_tasks_per_child, were left running and the exit waited for them)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    data = tmp_path / "data"
    env = {**os.environ, "BENCH_DATA": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", "prepare", "mini", "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list((data / "mini").glob("*.partial-*/identity.png")):  # written just before the pool starts
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.2)
    time.sleep(3.0)  # the spawned workers are importing or rendering clips
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("bench prepare mini did not exit within 60 s of SIGTERM")
    assert proc.returncode == 130, err
    assert "interrupted: mini" in err and "Re-run the same command" in err and "Traceback" not in err
    assert not list((data / "mini").glob("*.partial-*"))  # nothing half-built is kept


def test_an_interrupted_first_use_build_in_bench_run_says_what_happened(tmp_path, monkeypatch, capsys):
    """`bench run` builds mini on first use; Ctrl-C / SIGTERM there printed only "aborted"."""
    import sys

    import pytest

    from benchmark import cli
    from protocols.mini import build

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "build", interrupted)
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "bench",
            "run",
            "--model",
            "still",
            "--dataset",
            "mini",
            "--metrics",
            "psnr",
            "--data-dir",
            str(tmp_path / "data"),
            "--out",
            str(tmp_path / "runs"),
        ],
    )
    with pytest.raises(SystemExit) as stop:
        cli.main()
    err = capsys.readouterr().err
    assert stop.value.code == 130 and "aborted" not in err
    assert (
        f"interrupted: mini/{MiniProtocol.version} was not built" in err
        and "Re-run the same command to build it" in err
    )


def test_planted_motion_silences_and_brows(mini):
    """mini v3 plants what the motion and sync metrics measure: yaw/pitch/roll that the pose estimator
    reads back from the planted landmarks (against the identity's own shape), silences before, inside
    and after the sentence with the mouth at rest and no sound, and eyebrow raises during speech."""
    from benchmark.core.media import read_wav
    from benchmark.perception import head_pose as H
    from metrics.motion import theval as TV
    from protocols.mini import build as B

    reference = H.reference_from_points(B.identity_frame()[1][None].astype(np.float64))
    n_raises = 0
    for clip in mini.clips():
        truth = clip.load_annotations()
        pose = H.estimate_head_pose(truth["landmarks"].astype(np.float64), reference=reference)
        np.testing.assert_allclose(pose.angles, truth["head_pose"], atol=1e-3)
        assert np.ptp(truth["head_pose"][:, 0]) > 4 and np.ptp(truth["head_pose"][:, 1]) > 2  # it really moves
        silences = list(zip(truth["silence_start"], truth["silence_end"]))
        assert len(silences) == 3 and silences[0][0] == 0.0
        assert silences[0][1] >= 0.6 and silences[-1][1] - silences[-1][0] >= 0.6 - 1 / clip.fps
        assert silences[1][1] - silences[1][0] == pytest.approx(0.6)  # mid-sentence
        audio, rate = read_wav(clip.audio_path)
        centres = (np.arange(clip.n_frames) + 0.5) / clip.fps
        for start, end in silences:
            # no speech: below -40 dBFS (the synthesiser's own decay after the last phone is ~-50 dBFS)
            assert np.abs(audio[int(np.ceil(start * rate)) : int(end * rate)]).max() < 1e-2
            inside = (centres >= start) & (centres < end)
            assert inside.sum() >= 0.3 * clip.fps
            assert np.all(truth["mouth_state"][inside] == np.float32(C.REST_APERTURE))
        for start, end in zip(truth["speech_start"], truth["speech_end"]):
            assert np.abs(audio[int(start * rate) : int(end * rate)]).max() > 0.05
        # brows: THEval's brow-to-eye heights follow the planted lift (not perfectly: pitch foreshortens
        # the brow-to-eye distance too, brow and eye lying at different depths)
        lm = truth["landmarks"].astype(np.float64)
        left, right, _ = TV.eyebrow_heights(lm[:, 22:27], lm[:, 17:22], lm[:, 42:48], lm[:, 36:42])
        assert np.corrcoef(left + right, truth["brow_lift"])[0, 1] > 0.85
        n_raises += len(truth["brow_peaks"])
    assert n_raises >= 12


def test_the_landmark_backend_sees_the_planted_head_motion(mini):
    """Pixels, not only landmarks: mediapipe on a rendered clip gives a pose that follows the planted one."""
    from benchmark.perception import head_pose as H
    from benchmark.perception.registry import get_landmark_backend

    clip = mini.clips()[1]
    truth = clip.load_annotations()
    track = get_landmark_backend("mediapipe").detect(clip.load_frames())
    assert track.found.all()
    ibug = H.estimate_head_pose(track.points, track.found, reference=H.reference_from_points(track.points))
    mesh = H.head_pose_of(track)  # the metrics' pose: the mesh's rigid points
    assert mesh.points == "mesh-rigid31"
    for pose in (ibug, mesh):
        corr = [np.corrcoef(pose.angles[:, i], truth["head_pose"][:, i])[0, 1] for i in range(3)]
        assert corr[0] > 0.9 and corr[1] > 0.75 and corr[2] > 0.9, (pose.points, corr)


def test_the_planted_mouth_is_in_time_with_its_sound_on_every_clip(mini):
    """mini v4 opens the mouth with the speech's loudness, so the weightless offset (silero's speech, the
    planted landmarks' openness, the envelope at frame centres) reads 0 on every clip with the sub-frame
    peak well inside ±½ frame, and the same mouth 3 frames late reads 3 (v3's keyframes alone lagged the
    sound 0.2–1.3 frames and one clip read 1)."""
    from benchmark.perception.av_signals import mouth_openness, rms_envelope
    from benchmark.perception.vad import get_vad, speech_frame_mask
    from metrics.motion import sync
    from metrics.motion.sync_metrics import ENVELOPE

    vad, subframes = get_vad("silero"), []
    for clip in mini.clips():
        audio, rate = read_wav(clip.audio_path)
        openness = mouth_openness(clip.load_annotations()["landmarks"].astype(np.float64))
        envelope = rms_envelope(audio, rate, clip.n_frames, clip.fps, **ENVELOPE, frame_time="centre")
        speech = speech_frame_mask(vad.speech_intervals(audio, rate), clip.fps, clip.n_frames)
        found = sync.av_offset(openness, envelope, speech, clip.fps)
        late = sync.av_offset(np.r_[np.full(3, openness[0]), openness[:-3]], envelope, speech, clip.fps)
        assert (found.offset, late.offset) == (0.0, 3.0), clip.id
        subframes.append(found.subframe)
    assert np.max(np.abs(subframes)) < 0.35, np.round(subframes, 2)
