"""LMD, blink and bilabial metrics: conventions by hand, detectors on known signals, and the
planted mini ground truth as the oracle end to end."""

import numpy as np
import pytest

from benchmark.perception.face_geometry import eye_aspect_ratio, fill_missing, mouth_aperture
from benchmark.engine.runner import RunConfig, Runner
from metrics.bilabial import bilabial_intervals, event_frames
from metrics.blink import blink_durations, detect_blinks_offline, detect_blinks_online, match_events
from metrics.lmd import landmark_distance

LANDMARK_METRICS = (
    "lmd",
    "lmd-centered",
    "lmd-sum",
    "lmd-l1",
    "blink",
    "blink-vougioukas",
    "blink-online",
    "bilabial",
    "bilabial-recall",
)


def test_lmd_conventions_by_hand():
    rng = np.random.default_rng(0)
    ref = rng.uniform(50, 150, size=(5, 20, 2))
    shifted = ref + np.array([3.0, 4.0])  # every point moved by a 3-4-5 triangle
    assert landmark_distance(shifted, ref, False, "euclidean", "mean") == pytest.approx(np.full(5, 5.0))
    assert landmark_distance(shifted, ref, True, "euclidean", "mean") == pytest.approx(np.zeros(5), abs=1e-12)
    assert landmark_distance(shifted, ref, False, "euclidean", "sum") == pytest.approx(np.full(5, 100.0))
    assert landmark_distance(shifted, ref, False, "l1", "mean") == pytest.approx(np.full(5, 3.5))


def _ear_by_hand(lm):
    def eye(p):
        d = lambda a, b: ((p[a][0] - p[b][0]) ** 2 + (p[a][1] - p[b][1]) ** 2) ** 0.5
        return (d(1, 5) + d(2, 4)) / (2 * d(0, 3))

    return (eye(lm[36:42]) + eye(lm[42:48])) / 2


def test_ear_and_aperture_on_planted_landmarks_match_hand_computation(mini):
    for clip in mini.clips()[:4]:
        truth = clip.load_annotations()
        lm = truth["landmarks"].astype(np.float64)
        ear = eye_aspect_ratio(lm)
        assert ear == pytest.approx([_ear_by_hand(f) for f in lm], abs=1e-9)
        # the builder planted the aperture with its own code; recompute it independently here
        gap = [(np.hypot(*(f[61] - f[67])) + np.hypot(*(f[62] - f[66])) + np.hypot(*(f[63] - f[65]))) / 3 for f in lm]
        width = [np.hypot(*(f[54] - f[48])) for f in lm]
        assert mouth_aperture(lm) == pytest.approx(np.array(gap) / np.array(width), abs=1e-9)
        assert mouth_aperture(lm) == pytest.approx(truth["aperture"], abs=1e-5)
        for onset in truth["blink_onsets"]:
            assert ear[onset + 2] == pytest.approx(0.0, abs=1e-6)  # the planted profile closes fully


def test_blink_detectors_on_a_known_signal():
    ear = np.full(60, 0.33)
    for start in (10, 40):  # two blinks: fall over 3 frames, rise over 2
        ear[start : start + 5] = [0.26, 0.17, 0.12, 0.22, 0.29]
    ear[25] = 0.30  # a small flicker is not a blink
    assert detect_blinks_offline(ear, 0.072, 4).tolist() == [11, 41]
    assert detect_blinks_online(ear, 0.2, 2).tolist() == [11, 41]
    assert blink_durations(ear, np.array([11, 41])).tolist() == [3, 3]
    assert match_events(np.array([11, 41, 55]), np.array([10, 40]), 5) == (2, 1, 0)
    assert match_events(np.array([11]), np.array([10, 40]), 5) == (1, 0, 1)


def test_missing_faces_are_interpolated_not_dropped_silently():
    values = np.array([1.0, np.nan, 3.0, np.nan])
    found = np.array([True, False, True, False])
    assert fill_missing(values, found).tolist() == [1.0, 2.0, 3.0, 3.0]


def test_bilabial_events_merge_and_window():
    phones = ["s", "'E", "m", "b", "I", "p", "_"]
    starts = [0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 0.6]
    ends = [0.1, 0.2, 0.25, 0.3, 0.5, 0.6, 0.7]
    assert bilabial_intervals(phones, starts, ends) == [(0.2, 0.3), (0.5, 0.6)]
    # 25 fps: [0.2, 0.3) covers frames 5..7, plus one frame of tolerance each side
    assert event_frames(0.2, 0.3, 25, 75, 1).tolist() == [4, 5, 6, 7, 8]
    assert event_frames(0.0, 0.03, 25, 75, 1).tolist() == [0, 1]


@pytest.fixture(scope="module")
def landmark_runs(mini_data_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    records = {}
    for model in ("ground-truth", "still"):
        config = RunConfig(model=model, dataset="mini", metrics=LANDMARK_METRICS, data_dir=mini_data_root, runs_dir=out)
        records[model] = Runner(config, progress=False, log=lambda s: None).run().record
    return records


def test_ground_truth_recovers_planted_events(landmark_runs):
    r = landmark_runs["ground-truth"]["results"]
    for variant in ("lmd", "lmd-centered", "lmd-sum", "lmd-l1"):
        assert r[variant]["value"] == 0.0
    for variant in ("blink", "blink-vougioukas"):  # the planted blinks close fully: both detectors see them
        assert r[variant]["planted_precision"] >= 0.9 and r[variant]["planted_recall"] >= 0.9
        assert r[variant]["value"] == r[variant]["reference_value"] > 0
    assert r["bilabial"]["value"] == pytest.approx(1.0) and r["bilabial-recall"]["value"] == pytest.approx(1.0)
    assert r["bilabial"]["reference_closure_rate"] >= 0.95
    assert r["bilabial"]["totals"]["events"] >= 10 and r["bilabial"]["totals"]["reference_open"] >= 10


def test_still_never_blinks_or_opens(landmark_runs):
    r = landmark_runs["still"]["results"]
    for variant in ("blink", "blink-vougioukas", "blink-online"):
        assert r[variant]["value"] == 0.0 and r[variant]["reference_value"] > 0.2
    # mini's identity rests closed, as the ground truth does between words: the still earns every closure
    # and no vowel opening, so it scores the documented still's 0.5 (closure recall alone would give it 1.0)
    assert r["bilabial"]["closure_recall"] == 1.0 and r["bilabial-recall"]["value"] == r["bilabial"]["closure_recall"]
    assert r["bilabial"]["opening_recall"] == 0.0 and r["bilabial"]["value"] <= 0.5
    assert r["bilabial"]["mean_aperture_at_events"] < 0.05
    assert r["lmd"]["value"] > 1.0
    assert r["lmd-sum"]["value"] == pytest.approx(20 * r["lmd"]["value"], rel=1e-9)


def test_landmark_backend_is_recorded(landmark_runs):
    specs = {m["variant"]: m for m in landmark_runs["still"]["metrics"]}
    assert specs["lmd"]["backend"].startswith("mediapipe-0.10.21")
    assert specs["bilabial"]["params"]["closure_threshold"] == 0.05
    assert specs["bilabial"]["params"]["tolerance_frames"] == 1
    assert (
        specs["bilabial"]["params"]["open_threshold"] == 0.15
        and specs["bilabial"]["params"]["nucleus_halfwidth_frames"] == 1
    )
    assert specs["bilabial-recall"]["params"]["headline"] == "closure_recall"
    assert specs["blink"]["params"]["detector"] == "baseline-relative-hysteresis"
    assert specs["blink"]["params"]["onset_drop"] == 0.12 and specs["blink"]["params"]["noise_k"] == 2.5
    assert specs["blink-vougioukas"]["params"]["peak_height"] == 0.072


def test_faceless_frames_are_counted_and_low_coverage_fails_the_clip_with_a_reason(mini):
    from benchmark.core.errors import ClipError
    from benchmark.core.settings import Settings
    from benchmark.core.types import Video
    from metrics import create_metric
    from metrics.context import ClipContext

    settings = Settings.create(data_dir=mini.data_root, environ={})
    clip = mini.clips()[0]
    reference = clip.load_frames()
    one_black = reference.copy()
    one_black[7] = 0
    result = create_metric("lmd", settings).update(
        ClipContext(clip, Video(one_black, 25.0), reference, settings=settings)
    )
    assert result.extras["frames_without_face_generated"] == 1 and result.extras["frames_scored"] == clip.n_frames - 1
    half_black = reference.copy()
    half_black[::2] = 0
    for name in ("lmd", "blink", "bilabial"):
        with pytest.raises(ClipError, match="coverage threshold"):
            create_metric(name, settings).update(
                ClipContext(clip, Video(half_black, 25.0), reference, settings=settings)
            )


def test_dlib68_backend_finds_the_planted_landmarks(mini):
    from benchmark.perception.registry import get_landmark_backend

    clip = mini.clips()[0]
    frames, planted = clip.load_frames()[[0, 30]], clip.load_annotations()["landmarks"][[0, 30]]
    track = get_landmark_backend("dlib68").detect(frames)
    assert track.found.all()
    error = np.linalg.norm(track.points - planted, axis=2).mean()
    assert error < 3.0, error  # pixels at 256x256: dlib measured the planted points in the first place


def test_dlib68_upsamples_once_as_the_common_convention_and_records_its_policy(mini):
    """dlib68 = upsample 1 (as scripts/annotate_astronaut.py); dlib68-up0 = the earlier 0-then-1 policy, by name."""
    pytest.importorskip("dlib")
    import dlib

    from benchmark.perception.base import dlib_model_path
    from benchmark.perception.registry import get_landmark_backend

    default, earlier = get_landmark_backend("dlib68"), get_landmark_backend("dlib68-up0")
    assert default.version().endswith("-hog-up1-sp68") and earlier.version().endswith("-hog-up0-else-up1-sp68")
    assert default.cache_key() != earlier.cache_key()
    frame = mini.clips()[1].load_frames()[12]
    # oracle: dlib called directly the way the astronaut annotation script calls it
    predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
    face = max(dlib.get_frontal_face_detector()(frame, 1), key=lambda r: r.area())
    expected = np.array([[p.x, p.y] for p in predictor(frame, face).parts()], dtype=np.float64)
    track = default.detect(frame[None])
    assert track.points.dtype == np.float64 and np.array_equal(track.points[0], expected)

    class Spy:  # which upsampling levels each policy asks for, with and without a face at level 0
        def __init__(self, finds_at_zero):
            self.calls, self.finds_at_zero = [], finds_at_zero

        def __call__(self, image, level):
            self.calls.append(level)
            return [face] if level == 1 or self.finds_at_zero else []

    for backend, finds_at_zero, calls in (
        (default, True, [1]),
        (default, False, [1]),
        (earlier, True, [0]),
        (earlier, False, [0, 1]),
    ):
        spy = Spy(finds_at_zero)
        real, backend._detector = backend._detector, spy
        try:
            assert backend.faces(frame) == [face] and spy.calls == calls, (backend.name, finds_at_zero)
        finally:
            backend._detector = real


def test_geometry_is_float64_whatever_the_points_dtype():
    rng = np.random.default_rng(3)
    points = rng.uniform(40, 200, size=(6, 68, 2))
    as32 = points.astype(np.float32)
    for fn in (eye_aspect_ratio, mouth_aperture):
        assert fn(as32).dtype == np.float64
        # float32 points go through float64 arithmetic: equal to the float64 computation on the same (rounded) values
        assert np.array_equal(fn(as32), fn(as32.astype(np.float64)))
    by_hand = np.array([_ear_by_hand(f) for f in points])
    assert np.abs(eye_aspect_ratio(points) - by_hand).max() < 1e-12
    assert np.abs(eye_aspect_ratio(as32) - by_hand).max() > 1e-9  # why the tracks themselves are float64 now


def test_fan_backend_without_weights_says_which_file_goes_where(tmp_path):
    from benchmark.core.errors import BenchError
    from benchmark.perception.registry import get_landmark_backend

    with pytest.raises(BenchError, match="nothing is downloaded") as err:
        get_landmark_backend("fan", "cpu", tmp_path)
    assert str(tmp_path / "fan" / "2DFAN4-11f355bf06.pth.tar") in str(err.value)
