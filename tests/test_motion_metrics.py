"""The motion metrics as registered metrics (issue 26 item 5): planted landmarks (the detector bypassed
by a counting stand-in backend) and injected VAD intervals, with values known by construction; the
THEval composite's aggregation on hand-made sums; the `motion` group; and one small run on mini.

Planted faces are built here (not drawn from mini): the rigid points are our canonical shape projected
at known angles, the inner lips open by a known gap (in inter-ocular distances, IOD = 90 px at yaw 0),
the brows lifted by a known height, in 256×256 frames (so THEval's 256-space is the pixel grid + ½).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmark.core.settings import Settings
from benchmark.core.video import Video
from benchmark.perception import vad as vad_module
from benchmark.perception.base import LandmarkTrack
from benchmark.perception.head_pose import CANONICAL_RIGID, RIGID_IDS, project
from benchmark.perception.vad import FixedIntervals
from metrics import METRIC_GROUPS, METRICS, expand_metric_names, family_of
from metrics.context import ClipContext
from metrics.tracking import FramesClip

FPS, T, SIZE, IOD, RATE = 25.0, 100, 256, 90.0, 16000
ORIGIN = np.array([128.0, 110.0])
SPEECH = [(1.0, 2.96)]  # frames 25..74 are speech (THEval's int(s·fps) inclusive rule); 0..24 and 75..99 silent
LIP_Y = 180.0


def planted_points(yaw=None, gap=None, brow=None) -> np.ndarray:
    """(T, 68, 2): rigid points at `yaw` (deg), inner-lip gap `gap` (IOD), brow lift `brow` (IOD)."""
    yaw = np.zeros(T) if yaw is None else np.asarray(yaw, dtype=np.float64)
    gap = np.full(T, 0.05) if gap is None else np.asarray(gap, dtype=np.float64)
    brow = np.zeros(T) if brow is None else np.asarray(brow, dtype=np.float64)
    p = np.repeat(np.random.default_rng(3).uniform(40, 216, (1, 68, 2)), T, axis=0)  # jaw etc.: fixed, arbitrary
    for t in range(T):
        p[t, list(RIGID_IDS)] = project(CANONICAL_RIGID, yaw[t], 0.0, 0.0, IOD, ORIGIN)
    y_eye = ORIGIN[1]
    for i, x, dy in (
        (37, 93, -6),
        (38, 102, -6),
        (40, 102, 6),
        (41, 93, 6),
        (43, 154, -6),
        (44, 163, -6),
        (46, 163, 6),
        (47, 154, 6),
    ):
        p[:, i] = (x, y_eye + dy)
    for k, i in enumerate(range(17, 22)):
        p[:, i, 0], p[:, i, 1] = 75 + 10 * k, y_eye - 25 - brow * IOD
    for k, i in enumerate(range(22, 27)):
        p[:, i, 0], p[:, i, 1] = 141 + 10 * k, y_eye - 25 - brow * IOD
    p[:, 60], p[:, 64] = (108, LIP_Y), (148, LIP_Y)
    for upper, lower, x in ((61, 67, 118), (62, 66, 128), (63, 65, 138)):
        p[:, upper, 0] = p[:, lower, 0] = x
        p[:, upper, 1], p[:, lower, 1] = LIP_Y - gap * IOD / 2, LIP_Y + gap * IOD / 2
    return p


class PlantedBackend:
    """Stands in for a landmark backend: returns the planted track of whichever side's frames it gets,
    and counts detections."""

    def __init__(self, tracks: dict[int, LandmarkTrack]):
        self.tracks, self.calls = tracks, 0

    def detect(self, frames):
        self.calls += 1
        return self.tracks[id(frames)]

    def cache_key(self):
        return {"backend": "planted"}

    def version(self):
        return "planted"


class CountingVad(FixedIntervals):
    calls = 0

    def speech_intervals(self, audio, rate):
        CountingVad.calls += 1
        return super().speech_intervals(audio, rate)


@pytest.fixture
def planted_vad(monkeypatch):
    CountingVad.calls = 0
    monkeypatch.setitem(vad_module.VAD_BACKENDS, "planted", lambda: CountingVad(SPEECH))
    return CountingVad


def speech_like(seed: int = 5):
    """4 s of noise carrying a random 2-7 Hz envelope, and that envelope at the frame centres (the instant
    each frame shows, where the weightless offset reads the audio)."""
    rng = np.random.default_rng(seed)
    freqs, phases = rng.uniform(2, 7, 6), rng.uniform(0, 2 * np.pi, 6)

    def envelope(t):
        return 1.2 + np.sum([np.sin(2 * np.pi * f * np.asarray(t) + p) for f, p in zip(freqs, phases)], axis=0) / 3

    t = np.arange(int(T / FPS * RATE)) / RATE
    return (rng.normal(0, 0.1, t.size) * envelope(t)).astype(np.float32), envelope((np.arange(T) + 0.5) / FPS), envelope


def planted_context(generated: np.ndarray, reference: np.ndarray, audio=None, cache_dir=None, settings=None):
    """A clip context whose landmark backend returns `generated` / `reference` points (all found)."""
    frame = np.zeros((1, SIZE, SIZE, 3), np.uint8)
    gen_frames, ref_frames = (
        np.broadcast_to(frame, (T, SIZE, SIZE, 3)),
        np.broadcast_to(frame, (T, SIZE, SIZE, 3)).copy(),
    )
    audio = speech_like()[0] if audio is None else audio
    clip = FramesClip("planted", FPS, ref_frames[0], {}, audio, RATE)
    ctx = ClipContext(
        clip, Video(gen_frames, FPS), ref_frames, cache_dir=cache_dir, settings=settings or Settings.create(environ={})
    )
    backend = PlantedBackend(
        {
            id(gen_frames): LandmarkTrack(generated, np.ones(T, bool), "planted"),
            id(ref_frames): LandmarkTrack(reference, np.ones(T, bool), "planted"),
        }
    )
    ctx.landmark_backend = lambda name: backend
    return ctx, backend


def build(name: str, **overrides):
    cls = METRICS.get(family_of(name))
    if "vad" in cls.default_params:
        overrides.setdefault("vad", "planted")
    return cls.declare(name if name != cls.name else None, Settings.create(environ={}), **overrides).build()


def silent_alternating(d: float) -> np.ndarray:
    """Gap 0.05 ± d on the silent frames (alternating over the 50 of them: mean 0.05, every |o − mean| = d),
    a moving mouth during speech."""
    gap = 0.05 + 0.03 * np.sin(np.arange(T) / 2.0)
    silent = np.r_[0:25, 75:100]
    gap[silent] = 0.05 + d * np.where(np.arange(silent.size) % 2 == 0, 1.0, -1.0)
    return gap


def test_silent_lip_stability_reads_injected_silences_and_carries_the_ground_truths_value(planted_vad):
    ctx, _ = planted_context(planted_points(gap=silent_alternating(0.02)), planted_points(gap=silent_alternating(0.01)))
    scored = build("silent-lip-stability").score_clip(ctx)
    assert scored.value == pytest.approx(0.02, abs=1e-9)
    assert scored.extras["reference_value"] == pytest.approx(0.01, abs=1e-9)
    assert scored.pooled == pytest.approx({"sum": 0.02, "clips": 1, "reference_sum": 0.01, "reference_clips": 1})
    assert scored.extras["silent_frames"] == 50


def test_a_clip_without_silence_has_no_value_on_that_side_and_still_counts_the_other(monkeypatch):
    monkeypatch.setitem(vad_module.VAD_BACKENDS, "planted", lambda: FixedIntervals([(0.0, 4.0)]))
    ctx, _ = planted_context(planted_points(), planted_points())
    scored = build("silent-lip-stability").score_clip(ctx)
    assert scored.value is None and scored.pooled["clips"] == 0 and scored.pooled["reference_clips"] == 0
    assert "0.3 s" in scored.extras["no_value"]


def test_pose_diversity_and_head_motion_read_the_planted_yaw(planted_vad):
    t = np.arange(T) / FPS
    ctx, _ = planted_context(
        planted_points(yaw=6 * np.sin(2 * np.pi * t)), planted_points(yaw=3 * np.sin(2 * np.pi * t))
    )
    scored = build("pose-diversity").score_clip(ctx)
    # yaw std A/√2 over whole periods, pitch and roll 0: the mean over the three axes is A/(3√2)
    assert scored.value == pytest.approx(6 / np.sqrt(2) / 3, abs=0.02)
    assert scored.extras["reference_value"] == pytest.approx(3 / np.sqrt(2) / 3, abs=0.02)
    still = build("head-motion-dynamics-lm").score_clip(planted_context(planted_points(), planted_points())[0])
    assert still.value == pytest.approx(0.0, abs=1e-6)


def test_av_offset_of_a_mouth_three_frames_late(planted_vad, monkeypatch):
    monkeypatch.setitem(vad_module.VAD_BACKENDS, "planted", lambda: FixedIntervals([(0.0, 4.0)]))
    audio, envelope, _ = speech_like()
    truth = 0.02 + 0.05 * (envelope - envelope.min())
    late = np.r_[np.full(3, truth[0]), truth[:-3]]
    ctx, _ = planted_context(planted_points(gap=late), planted_points(gap=truth), audio=audio)
    offset = build("av-offset").score_clip(ctx)
    assert offset.value == 3 and offset.extras["reference_value"] == 0
    assert set(offset.artifacts) == {"correlogram", "reference_correlogram", "speech"}
    paired = build("av-offset-paired").score_clip(ctx)
    assert paired.value == 3 and paired.extras["reference_value"] == 0
    assert build("av-conf").score_clip(ctx).value > 0.3


def test_av_offset_reads_the_audio_at_frame_centres_so_a_mouth_drawn_at_frame_starts_is_half_a_frame_late(
    planted_vad, monkeypatch
):
    monkeypatch.setitem(vad_module.VAD_BACKENDS, "planted", lambda: FixedIntervals([(0.0, 4.0)]))
    audio, _, envelope = speech_like()
    at_centres = 0.02 + 0.05 * envelope((np.arange(T) + 0.5) / FPS)
    at_starts = 0.02 + 0.05 * envelope(np.arange(T) / FPS)
    ctx, _ = planted_context(planted_points(gap=at_starts), planted_points(gap=at_centres), audio=audio)
    scored = build("av-offset").score_clip(ctx)
    assert scored.extras["reference_subframe_offset"] == pytest.approx(0.0, abs=0.1)
    assert scored.extras["subframe_offset"] == pytest.approx(0.5, abs=0.1)
    assert build("av-offset").params["frame_time"] == "centre"


def test_every_motion_metric_shares_one_landmark_detection_per_side_and_one_vad_per_clip(planted_vad):
    t = np.arange(T) / FPS
    points = planted_points(yaw=4 * np.sin(2 * np.pi * t), gap=silent_alternating(0.01), brow=0.02 * np.sin(t))
    ctx, backend = planted_context(points, points)
    for name in METRIC_GROUPS["motion"]:
        build(name).score_clip(ctx)
    assert backend.calls == 2  # the generated video's landmarks and the ground truth's, each once
    assert planted_vad.calls == 1


def test_the_speech_intervals_are_cached_beside_the_protocol_once_per_clip(planted_vad, tmp_path):
    for _ in range(2):  # two runs (two models) over the same clip
        ctx, _ = planted_context(planted_points(), planted_points(), cache_dir=tmp_path)
        assert ctx.feature("speech", vad="planted") == SPEECH
    assert planted_vad.calls == 1
    assert len(list((tmp_path / "speech").rglob("planted-*.npz"))) == 1


# ---- the THEval composite ----------------------------------------------------------------------------------


def test_theval_score_of_the_ground_truth_is_exactly_one_and_a_still_face_scores_far_below(planted_vad):
    t = np.arange(T) / FPS
    moving = planted_points(
        yaw=4 * np.sin(2 * np.pi * 0.7 * t), gap=silent_alternating(0.01), brow=0.02 * np.sin(2 * np.pi * 1.3 * t)
    )
    metric = build("theval-score")
    ground_truth = metric.score_clip(planted_context(moving, moving)[0])
    still = metric.score_clip(planted_context(np.repeat(moving[:1], T, axis=0), moving)[0])
    state = metric.new_state()
    state.add(ground_truth.value, ground_truth.pooled)
    result = state.compute()
    assert result["value"] == 1.0 and result["naturalness"] == 1.0 and result["synchronization"] == 1.0
    state = metric.new_state()
    state.add(still.value, still.pooled)
    result = state.compute()
    # a still face: no lip, brow or head motion and a constant silent mouth score 0 each; lip sync scores below 1
    for name in ("lip-dynamics", "eyebrow-dynamics", "head-motion-dynamics-lm", "silent-lip-stability"):
        assert result[f"{name} score"] == pytest.approx(0.0, abs=1e-9), name
    assert result["value"] < 0.2


def test_theval_score_aggregation_on_hand_made_sums():
    """Two clips; per metric m and GT are means over the clips that have a value; score = mean of
    1 − |m − GT| / GT. lip dynamics at 2·GT scores 0, lip sync at GT/2 scores ½, the rest at GT score 1."""
    from metrics.motion.theval_metrics import FIVE, TheValScore, _key

    gt = {
        "lip-dynamics": 2.0,
        "head-motion-dynamics-lm": 0.5,
        "eyebrow-dynamics": 0.004,
        "silent-lip-stability": 0.01,
        "lip-sync-theval": 0.2,
    }
    gen = {**gt, "lip-dynamics": 4.0, "lip-sync-theval": 0.1}
    clips = []
    for shift in (-1.0, 1.0):  # two clips whose values average to the ones above
        pooled = {}
        for metric in FIVE:
            pooled[_key(metric, "generated", "sum")] = gen[metric] * (1 + 0.1 * shift)
            pooled[_key(metric, "reference", "sum")] = gt[metric] * (1 - 0.1 * shift)
            pooled[_key(metric, "generated", "clips")] = pooled[_key(metric, "reference", "clips")] = 1
        clips.append(pooled)
    clips.append({k: 0 for k in clips[0]})  # a clip where no metric had a value adds nothing
    aggregation = TheValScore.aggregation
    one, other = aggregation.new_state(), aggregation.new_state()
    one.add(None, clips[0])
    for pooled in clips[1:]:
        other.add(None, pooled)
    result = one.merge(other).compute()
    assert result["value"] == pytest.approx((0 + 1 + 1 + 1 + 0.5) / 5, abs=1e-12)
    assert result["naturalness"] == pytest.approx(2 / 3, abs=1e-12)
    assert result["synchronization"] == pytest.approx(0.75, abs=1e-12)
    assert result["lip-dynamics (ground truth)"] == pytest.approx(2.0) and result["lip-dynamics"] == pytest.approx(4.0)
    sums = {k: sum(c.get(k, 0.0) for c in clips) for k in aggregation.tracked_sums()}
    assert aggregation.value_of_sums(sums, 3) == pytest.approx(result["value"], abs=1e-12)  # ClipMetric's route
    # m = 3·GT everywhere scores −1 (unclipped)
    tripled = dict(clips[0]) | {_key(m, "generated", "sum"): 3 * clips[0][_key(m, "reference", "sum")] for m in FIVE}
    state = aggregation.new_state()
    state.add(None, tripled)
    assert state.compute()["value"] == pytest.approx(-1.0, abs=1e-12)


# ---- the group, and mini ---------------------------------------------------------------------------------


def test_the_motion_group_expands_in_place_to_registered_metrics(tmp_path):
    settings = Settings.create(data_dir=tmp_path, environ={})
    names = expand_metric_names(("psnr", "motion", "lip-dynamics"), settings, log=lambda s: None)
    assert names == ("psnr", *METRIC_GROUPS["motion"])
    for name in METRIC_GROUPS["motion"]:
        assert METRICS.get(family_of(name)).declare(name, settings).variant == name


MINI_METRICS = ("theval-score", "lip-dynamics", "av-offset-paired", "pose-l1")


def _per_clip(run_dir, metric: str) -> list:
    rows = [json.loads(line) for line in (run_dir / "clips.jsonl").read_text().splitlines()]
    return [next(v for k, v in row["scores"].items() if k.startswith(metric + "@")) for row in rows]


def test_motion_metrics_on_mini_ground_truth_still_and_a_three_frame_delay(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner

    results = {}
    for model, args in (("ground-truth", {}), ("still", {}), ("ground-truth", {"delay": "3"})):
        config = RunConfig(
            model=model,
            model_args=args,
            dataset="mini",
            metrics=MINI_METRICS,
            limit=2,
            data_dir=mini_data_root,
            runs_dir=tmp_path / "runs",
            threads=1,
        )
        outcome = Runner(config, progress=False, log=lambda s: None).run()
        assert outcome.exit_code == 0
        results[model + str(args)] = outcome
    truth = results["ground-truth{}"].record["results"]
    assert truth["theval-score"]["value"] == 1.0
    assert truth["lip-dynamics"]["value"] == truth["lip-dynamics"]["reference_value"] > 0
    assert results["still{}"].record["results"]["theval-score"]["value"] < 0.5
    delayed = results["ground-truth{'delay': '3'}"]
    assert [s["value"] for s in _per_clip(delayed.run_dir, "av-offset-paired")] == [3.0, 3.0]
    assert delayed.record["results"]["pose-l1"]["value"] > 0


def test_the_run_page_shows_pose_over_time_with_vad_bands_and_the_correlograms(mini_data_root, tmp_path):
    from benchmark.engine.runner import RunConfig, Runner
    from benchmark.reports.site import build_site

    config = RunConfig(
        model="ground-truth",
        model_args={"delay": "3"},
        dataset="mini",
        metrics=("pose-diversity", "av-offset", "av-conf"),
        limit=1,
        data_dir=mini_data_root,
        runs_dir=tmp_path / "runs",
        threads=1,
    )
    outcome = Runner(config, progress=False, log=lambda s: None).run()
    assert outcome.exit_code == 0
    [row] = [json.loads(line) for line in (outcome.run_dir / "clips.jsonl").read_text().splitlines()]
    speech = np.load(outcome.run_dir / _per_clip(outcome.run_dir, "av-offset")[0]["artifact"])["speech"]
    assert len(speech) >= 1  # mini's sentences have speech, found by silero
    build_site([tmp_path / "runs"], tmp_path / "site")
    page = next((tmp_path / "site" / "runs").glob("*.html")).read_text()
    assert "head yaw (deg) — VAD speech shaded (pose-diversity)" in page and "head pitch (deg)" in page
    assert "av-offset: r(lag), + = video late" in page and "av-conf: r(lag)" not in page
    assert "generated peak: +3" in page  # the delayed mouth peaks at lag 3
    yaw_plot = page.split("head yaw (deg)")[1].split("</svg>")[0]
    assert yaw_plot.count("<rect") == len(speech)  # one band per speech interval
