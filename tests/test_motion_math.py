"""Known answers for the motion and sync metric math, on synthetic inputs (analytic sinusoids, injected
speech masks, a delayed envelope), none drawn from mini. Expected values are closed forms or
independent brute-force computations, never the code under test."""

import numpy as np
import pytest

from benchmark.perception.av_signals import mouth_openness, rms_envelope, rms_frames
from metrics.motion import head as HD
from metrics.motion import sync as S
from metrics.motion import theval as TV
from metrics.motion.frames import frame_diffs, runs

FPS = 25.0


# --- frames ---------------------------------------------------------------------------------------------


def test_differences_bridge_gaps_only_when_asked():
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0])
    valid = np.array([True, True, False, True, True])
    assert runs(valid) == [(0, 2), (3, 5)]
    np.testing.assert_array_equal(frame_diffs(x, valid, bridge_gaps=True), [1.0, 9.0, 1.0])
    np.testing.assert_array_equal(frame_diffs(x, valid, bridge_gaps=False), [1.0, 1.0])


# --- lip dynamics ---------------------------------------------------------------------------------------------


def test_lip_dynamics_static_translated_and_brute_force():
    from scipy.spatial.distance import pdist

    rng = np.random.default_rng(0)
    still = np.repeat(rng.uniform(0, 50, (1, 20, 2)), 30, axis=0)
    assert TV.lip_dynamics(still) == pytest.approx(0.0, abs=1e-12)
    moving = still + rng.uniform(-5, 5, (30, 1, 2))  # the whole mouth translated per frame
    assert TV.lip_dynamics(moving) == pytest.approx(0.0, abs=1e-12)
    lips = rng.uniform(0, 50, (40, 20, 2))
    brute = np.mean(np.std(np.stack([pdist(f) for f in lips]), axis=0))
    assert TV.lip_dynamics(lips) == pytest.approx(brute, rel=1e-12)
    assert TV.lip_dynamics(2 * lips) == pytest.approx(2 * brute, rel=1e-12)  # not scale-invariant, as THEval
    found = np.ones(40, bool)
    found[5:9] = False
    lips_gaps = lips.copy()
    lips_gaps[5:9] = np.nan
    brute_gaps = np.mean(np.std(np.stack([pdist(f) for f in lips[found]]), axis=0))
    assert TV.lip_dynamics(lips_gaps, found) == pytest.approx(brute_gaps, rel=1e-12)
    assert TV.lip_dynamics(np.full_like(lips, np.nan), np.zeros(40, bool)) == 0.0  # THEval: no face -> 0.0


def test_lip_dynamics_two_points_sinusoidal_gap():
    t = np.arange(100)
    gap = 10 + 3.0 * np.sin(2 * np.pi * t / 20)  # 5 whole periods
    lips = np.zeros((100, 2, 2))
    lips[:, 1, 1] = gap
    assert TV.lip_dynamics(lips) == pytest.approx(3.0 / np.sqrt(2), rel=1e-12)
    assert TV.lip_dynamics(lips, max_frames=20) == pytest.approx(3.0 / np.sqrt(2), rel=1e-12)  # one period


def test_theval_square_coordinates():
    p = np.array([[[0.0, 0.0], [511.0, 255.0]]])
    np.testing.assert_allclose(TV.to_theval_square(p, (512, 256)), [[[0.25, 0.5], [255.75, 255.5]]])


# --- eyebrow dynamics -----------------------------------------------------------------------------------------


def _brow_face(h_left: np.ndarray, h_right: np.ndarray) -> dict:
    t = len(h_left)
    eye_l = np.tile([[60.0, 0.0], [70.0, 0.0]], (t, 1, 1))
    eye_r = np.tile([[-70.0, 0.0], [-60.0, 0.0]], (t, 1, 1))  # eye centres 130 px apart
    brow_l = eye_l.copy()
    brow_l[..., 1] -= 130 * h_left[:, None]
    brow_r = eye_r.copy()
    brow_r[..., 1] -= 130 * h_right[:, None]
    return {"brow_left": brow_l, "brow_right": brow_r, "eye_left": eye_l, "eye_right": eye_r}


def test_eyebrow_dynamics_sinusoid_and_rigid_motion():
    t = np.arange(60)
    h = 0.3 + 0.02 * np.sin(2 * np.pi * t / 12)
    face = _brow_face(h, np.full(60, 0.3))
    expected = np.abs(np.diff(h)).sum() / (2 * 59)  # right brow still: its 59 zero steps count too
    assert TV.eyebrow_dynamics(**face) == pytest.approx(expected, rel=1e-12)
    # the whole face translated, scaled and rotated in the image, brows fixed on it -> 0
    still = _brow_face(np.full(60, 0.3), np.full(60, 0.3))
    ang = np.deg2rad(np.linspace(0, 20, 60))
    rot = np.stack([np.stack([np.cos(ang), -np.sin(ang)], -1), np.stack([np.sin(ang), np.cos(ang)], -1)], -2)
    scale = np.linspace(1, 1.5, 60)[:, None, None]
    moved = {
        k: scale * np.einsum("tij,tkj->tki", rot, v) + np.linspace(0, 40, 60)[:, None, None] for k, v in still.items()
    }
    assert TV.eyebrow_dynamics(**moved) == pytest.approx(0.0, abs=1e-12)


def test_eyebrow_dynamics_gap_policy():
    h = np.array([0.30, 0.31, 0.50, 0.51, 0.52])  # the face is lost at frame 2
    face = _brow_face(h, h)
    found = np.array([True, True, False, True, True])
    bridged = TV.eyebrow_dynamics(**face, found=found, bridge_gaps=True)
    assert bridged == pytest.approx((0.01 + 0.20 + 0.01) / 3, rel=1e-9)  # 0.31 -> 0.51 across the gap
    assert TV.eyebrow_dynamics(**face, found=found, bridge_gaps=False) == pytest.approx(0.01, rel=1e-9)
    assert TV.eyebrow_dynamics(**_brow_face(h[:1], h[:1])) == 0.0  # no transition


# --- head-motion dynamics ------------------------------------------------------------------------------------


def test_head_motion_dynamics_closed_forms():
    n, period, amp = 100, 25, 6.0
    t = np.arange(n)
    angles = np.zeros((n, 3))
    angles[:, 0] = amp * np.sin(2 * np.pi * t / period)
    centre = np.zeros((n, 2))
    # yaw alone: std = A/√2; diff = 2A sin(π/P) cos(...) -> var = 2 A² sin²(π/P) over whole periods
    std_term = (amp / np.sqrt(2)) / 3
    dvar = np.var(np.diff(angles[:, 0]))  # 99 diffs: not whole periods, so take the sample value
    assert dvar == pytest.approx(2 * amp**2 * np.sin(np.pi / period) ** 2, rel=0.03)
    assert TV.head_motion_dynamics(angles, centre) == pytest.approx(np.sqrt(std_term * dvar / 3), rel=1e-12)
    # constant pose: only the translation term
    still = np.zeros((n, 3))
    cx = np.where(t % 2 == 0, 1.0, -1.0)  # var 1
    cy = np.zeros(n)
    assert TV.head_motion_dynamics(still, np.stack([cx, cy], 1)) == pytest.approx(np.sqrt(0.5), rel=1e-12)
    assert np.isnan(TV.head_motion_dynamics(still, np.stack([cx, cy], 1), found=np.zeros(n, bool)))


def test_head_motion_dynamics_never_bridges_in_our_variant():
    angles = np.zeros((10, 3))
    angles[5:, 0] = 30.0  # the head "jumps" while the face is lost at frame 4
    found = np.ones(10, bool)
    found[4] = False
    centre = np.zeros((10, 2))
    ours = TV.head_motion_dynamics(angles, centre, found, bridge_gaps=False)
    assert ours == pytest.approx(np.sqrt(np.mean(np.std(angles[found], axis=0)) * 0.0))  # no step inside a run
    assert TV.head_motion_dynamics(angles, centre, found, bridge_gaps=True) > 1.0  # THEval's: the jump counts


# --- silent-lip stability ------------------------------------------------------------------------------------


def test_silent_frames_follow_thevals_rule():
    # speech 0.5-1.5 s at 25 fps: frames 12..37 are speech; silences 0-11 (12 frames) and 38-49 (12)
    mask = TV.silent_frames([(0.5, 1.5)], FPS, 50)
    assert mask[:12].all() and not mask[12:38].any() and mask[38:].all()
    # a silence of 7 frames (< 0.3 s · 25 = 7.5) is dropped, 8 frames kept
    assert not TV.silent_frames([(0.0, 1.0), (1.32, 2.0)], FPS, 50)[26:33].any()
    assert TV.silent_frames([(0.0, 1.0), (1.36, 2.0)], FPS, 50)[26:34].all()


def test_silent_lip_stability_known_answers():
    silent = np.zeros(40, bool)
    silent[:20] = True
    assert TV.silent_lip_stability(np.full(40, 0.1), silent) == pytest.approx(0.0, abs=1e-15)
    alternating = np.where(np.arange(40) % 2 == 0, 0.3, 0.1)  # mean 0.2 ± 0.1
    assert TV.silent_lip_stability(alternating, silent) == pytest.approx(0.1, rel=1e-12)
    assert np.isnan(TV.silent_lip_stability(alternating, np.zeros(40, bool)))  # no silence
    one = np.zeros(40, bool)
    one[3] = True
    assert np.isnan(TV.silent_lip_stability(alternating, one))  # fewer than 2 frames


def test_silent_openness_of_points():
    p = np.zeros((1, 68, 2))
    p[0, 36], p[0, 45] = [0, 0], [100, 0]
    for (a, b), gap in zip(((61, 67), (62, 66), (63, 65)), (2.0, 4.0, 6.0)):
        p[0, b, 1] = gap
    assert TV.silent_openness(p)[0] == pytest.approx(0.04)


# --- THEval lip sync -----------------------------------------------------------------------------------------


def test_lip_sync_known_answers():
    rng = np.random.default_rng(3)
    v = rng.uniform(0, 1, 50)
    speech = np.ones(50, bool)
    assert TV.lip_sync(0.2 + 3 * v, v, speech) == pytest.approx(0.0, abs=1e-7)
    vn = (v - v.min()) / (v.max() - v.min())
    assert TV.lip_sync(1 - v, v, speech) == pytest.approx(np.mean(np.abs(2 * vn - 1)), abs=1e-7)
    few = np.zeros(50, bool)
    few[:4] = True  # 8 % speech
    assert np.isnan(TV.lip_sync(v, v, few))
    o = v.copy()
    o[10:] = np.nan  # the face only in 10 frames: those are scored
    on = (v[:10] - v[:10].min()) / (v[:10].max() - v[:10].min() + 1e-8)
    assert TV.lip_sync(o, v[::-1], speech) == pytest.approx(
        np.mean(np.abs(on - (v[::-1][:10] - v[::-1][:10].min()) / (v[::-1][:10].max() - v[::-1][:10].min() + 1e-8)))
    )


def test_lip_sync_openness_is_thevals_ratio():
    p = np.zeros((1, 68, 2))
    p[0, [61, 62, 63], 1] = 10.0
    p[0, [67, 66, 65], 1] = 16.0
    p[0, [36, 39], 0] = [0.0, 20.0]
    p[0, [42, 45], 0] = [60.0, 80.0]  # eye centres 60 px apart horizontally
    assert TV.lip_sync_openness(p, (200, 100))[0] == pytest.approx((6 / 100) / (60 / 200))


# --- the composite -------------------------------------------------------------------------------------------


def test_theval_score_reproduces_thevals_anchors():
    names = [f"m{i}" for i in range(8)]
    gt = dict.fromkeys(names, 10.0)
    method = dict(zip(names, (12, 5, 10, 15, 10, 5, 10, 0)))
    assert TV.theval_score(method, gt).final == pytest.approx(0.6625)
    assert TV.theval_score(gt, gt).final == 1.0
    score = TV.theval_score({"lip-dynamics": 30.0, "lip-sync": 0.3}, {"lip-dynamics": 10.0, "lip-sync": 0.3})
    assert score.per_metric["lip-dynamics"] == -1.0  # 3·GT: no clipping
    assert score.groups == {"naturalness": -1.0, "synchronization": 1.0} and score.final == 0.0
    with pytest.raises(ValueError, match="non-zero"):
        TV.theval_score({"a": 1.0}, {"a": 0.0})


# --- envelope and openness -----------------------------------------------------------------------------------


def test_rms_matches_librosa_and_a_hand_computation():
    rng = np.random.default_rng(4)
    y = rng.normal(0, 0.1, 16000).astype(np.float32)
    librosa = pytest.importorskip("librosa")
    ref = librosa.feature.rms(y=y, frame_length=800, hop_length=800)[0]
    np.testing.assert_allclose(rms_frames(y, 800, 800), ref, rtol=1e-5)
    const = np.full(1600, 0.5)
    env = rms_envelope(const, 16000, n_frames=3, fps=25, window_s=0.05, hop_s=0.01)
    # frame 0 at t=0: the centred window is half zero padding -> sqrt(0.5·0.25)
    assert env[0] == pytest.approx(np.sqrt(0.125)) and env[1] == pytest.approx(0.5)


def test_mouth_openness_is_gap_over_interocular():
    p = np.zeros((2, 68, 2))
    p[:, 36], p[:, 45] = [0, 0], [90, 0]
    p[0, [67, 66, 65], 1] = 9.0
    p[1] = np.nan
    o = mouth_openness(p)
    assert o[0] == pytest.approx(0.1) and np.isnan(o[1])


# --- weightless offset ---------------------------------------------------------------------------------------


def _speech_like(seconds: float, seed: int, rate: int = 16000):
    """Noise carrying a random 2-7 Hz envelope, and that envelope as a function of time."""
    rng = np.random.default_rng(seed)
    freqs, phases = rng.uniform(2, 7, 6), rng.uniform(0, 2 * np.pi, 6)

    def envelope(t):
        t = np.asarray(t, dtype=np.float64)
        return 1.2 + np.sum([np.sin(2 * np.pi * f * t + p) for f, p in zip(freqs, phases)], axis=0) / 3

    t = np.arange(int(seconds * rate)) / rate
    return rng.normal(0, 0.1, t.size) * envelope(t), envelope


@pytest.mark.parametrize("k", [-5, 0, 3, 8])
def test_av_offset_finds_the_delay_of_the_mouth(k):
    audio, envelope = _speech_like(4.0, seed=5)
    n = 100
    e = rms_envelope(audio, 16000, n, FPS, window_s=0.05, hop_s=0.01)
    openness = envelope(np.arange(n) / FPS - k / FPS)  # the mouth follows the sound k frames late
    speech = np.ones(n, bool)
    result = S.av_offset(openness, e, speech, FPS)
    assert result.offset == k, result.correlogram
    assert result.confidence > 0.3
    paired = S.av_offset_paired(openness, envelope(np.arange(n) / FPS), FPS)
    assert paired.offset == k


def test_av_offset_of_an_unrelated_mouth_has_no_confidence_and_silence_is_excluded():
    audio, _ = _speech_like(4.0, seed=6)
    _, other = _speech_like(4.0, seed=7)
    n = 100
    e = rms_envelope(audio, 16000, n, FPS, window_s=0.05, hop_s=0.01)
    confs = [
        S.av_offset(
            np.random.default_rng(s).permutation(other(np.arange(n) / FPS)), e, np.ones(n, bool), FPS
        ).confidence
        for s in range(5)
    ]
    assert np.mean(confs) < 0.3
    speech = np.zeros(n, bool)
    speech[:20] = True  # 0.8 s of speech: under the 1 s a lag needs
    assert np.isnan(S.av_offset(other(np.arange(n) / FPS), e, speech, FPS).offset)
    # a still image's mouth: constant up to float noise -> no offset (was ±15 from rounding residue)
    still = np.full(n, 0.03) + 1e-13 * np.random.default_rng(0).normal(size=n)
    assert np.isnan(S.av_offset(still, e, np.ones(n, bool), FPS).offset)
    assert np.isnan(S.av_offset_paired(still, other(np.arange(n) / FPS), FPS).offset)


@pytest.mark.parametrize("d, whole", [(0.3, 0), (0.7, 1), (2.4, 2), (-0.7, -1)])
def test_av_offset_rounds_a_fractional_delay_and_the_subframe_peak_keeps_it(d, whole):
    audio, envelope = _speech_like(4.0, seed=9)
    n = 100
    e = rms_envelope(audio, 16000, n, FPS, window_s=0.05, hop_s=0.01)
    result = S.av_offset(envelope(np.arange(n) / FPS - d / FPS), e, np.ones(n, bool), FPS)
    assert result.offset == whole
    assert result.subframe == pytest.approx(d, abs=0.15)


def test_av_offset_of_a_clip_shorter_than_the_detrend_window_has_no_value_not_a_crash():
    """16 frames (0.64 s) under the 1 s moving mean: np.convolve's "same" output took the window's
    length (25) and the subtraction raised a broadcast error."""
    x = np.sin(np.arange(16) / 2.0)
    result = S.av_offset(x, np.cos(np.arange(16) / 2.0), np.ones(16, bool), FPS)
    assert np.isnan(result.offset) and result.correlogram.shape == (31,)
    np.testing.assert_allclose(S.detrend(np.full(16, 3.0), np.ones(16, bool), 25), 0.0, atol=1e-12)


# --- head motion ---------------------------------------------------------------------------------------------


def test_pose_diversity_of_sinusoids():
    t = np.arange(100)
    angles = np.stack([4 * np.sin(2 * np.pi * t / 25), 2 * np.sin(2 * np.pi * t / 20), np.zeros(100)], 1)
    mean, per_axis = HD.pose_diversity(angles)
    np.testing.assert_allclose(per_axis, [4 / np.sqrt(2), 2 / np.sqrt(2), 0], rtol=1e-12, atol=1e-12)
    assert mean == pytest.approx(per_axis.mean())


def _clicks(times, rate=16000, seconds=6.0):
    y = np.zeros(int(seconds * rate))
    for t in times:
        i = int(round(t * rate))
        y[i : i + 160] = np.hanning(160) * np.sin(2 * np.pi * 1000 * np.arange(160) / rate)
    return y


@pytest.mark.parametrize("fps", [25.0, 30.0])
def test_beat_alignment_of_motion_on_the_beat_and_off_it(fps):
    """A 120 BPM click track; yaw = A·sin(2π t) has its speed minima (the turning points) every 0.5 s at
    t = 0.25 + 0.5 n: clicks there align (BA ≈ 1), clicks a quarter period later do not."""
    clicks = 0.25 + 0.5 * np.arange(11)
    onsets = HD.speech_onsets(_clicks(clicks), 16000)
    assert onsets.size == clicks.size and np.abs(onsets - clicks).max() < 0.02
    t = np.arange(int(6 * fps)) / fps
    yaw = 5 * np.sin(2 * np.pi * t)
    angles = np.stack([yaw, np.zeros_like(yaw), np.zeros_like(yaw)], 1)
    beats = HD.motion_beats(angles, fps)
    assert np.abs(clicks[:, None] - beats[None, :]).min(axis=1).max() < 0.5 / fps + 1e-9  # a beat at each click
    on = HD.beat_align(onsets, beats)
    off = HD.beat_align(HD.speech_onsets(_clicks(clicks + 0.25), 16000), beats)
    assert on > 0.85 and off < 0.05
    chance = HD.beat_align_shuffled(onsets, beats, 6.0)
    assert off < chance < on


def test_beat_align_edge_cases():
    assert HD.beat_align(np.array([1.0]), np.array([])) == 0.0
    assert np.isnan(HD.beat_align(np.array([]), np.array([1.0])))
    assert HD.beat_align(np.array([1.0, 2.0]), np.array([1.05])) == pytest.approx(
        (np.exp(-(0.05**2) / (2 * 0.05**2)) + np.exp(-(0.95**2) / (2 * 0.05**2))) / 2
    )


def test_pose_l1_and_frechet_distance():
    rng = np.random.default_rng(8)
    pose = rng.normal(0, 3, (200, 5))
    assert HD.pose_l1(pose, pose) == 0.0
    shifted = pose.copy()
    shifted[:, 2] += 1.5
    assert HD.pose_l1(shifted, pose) == pytest.approx(1.5 / 5)
    assert HD.frechet_distance(pose, pose) == pytest.approx(0.0, abs=1e-6)
    a = rng.normal(0, 1, (20000, 3))
    b = rng.normal(0, 1, (20000, 3)) + [1.0, 2.0, 0.0]
    assert HD.frechet_distance(a, b) == pytest.approx(5.0, rel=0.03)
    # FD of two Gaussians with the same mean: (σ1 − σ2)² per dimension
    c = rng.normal(0, 2, (20000, 3))
    assert HD.frechet_distance(a, c) == pytest.approx(3.0, rel=0.05)
