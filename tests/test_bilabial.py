"""The bilabial headline cannot be gamed by a mouth that ignores the speech.

Synthetic aperture traces (built here, independently of the metric) give the ordering the
metric claims: ground truth and a trace shifted by at most the tolerance score 1; stills score
0.5 or 0; random and flickering mouths about 0.5 or less; larger shifts fall in between. Then
the real pipeline: on mini and on a fake GRID corpus, a closed-mouth still scores 1.0 on the old
closure recall but only 0.5 on the headline, clearly below the ground truth's 1.0.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.core.stats import PooledState, bootstrap_indices, percentile_interval
from metrics.bilabial import BilabialClosure, held_aperture, is_vowel, score_traces, vowel_intervals

FPS = 25.0
PARAMS = BilabialClosure.default_params
VOWELS = ("aa", "ae", "ow", "'a:", "V", "E", "@", "aI")
CONSONANTS = ("t", "s", "v", "n", "k", "l")


def synthetic_clip(rng: np.random.Generator, n_frames: int):
    """Phones (name, start s, end s) and a ground-truth aperture per frame: closed on /p b m/,
    peaking at 0.25-0.45 in the middle of vowels, ~0.08 on other consonants, linear in between."""
    phones, t, end_of_speech = [], 0.2, n_frames / FPS - 0.4
    while t < end_of_speech:
        kind = rng.choice(["bilabial", "vowel", "consonant"], p=[0.25, 0.45, 0.3])
        duration = rng.uniform(0.12, 0.24) if kind == "vowel" else rng.uniform(0.05, 0.12)
        name = rng.choice({"bilabial": ["p", "b", "m"], "vowel": VOWELS, "consonant": CONSONANTS}[kind])
        phones.append((str(name), t, t + duration, kind))
        t += duration
    times, values = [0.0], [0.02]
    for _, start, end, kind in phones:
        if kind == "bilabial":
            times += [start, end]
            values += [0.0, 0.0]
        else:
            times.append((start + end) / 2)
            values.append(rng.uniform(0.25, 0.45) if kind == "vowel" else 0.08)
    times.append(n_frames / FPS)
    values.append(0.02)
    centres = (np.arange(n_frames) + 0.5) / FPS
    aperture = np.interp(centres, times, values)
    for _, start, end, kind in phones:
        if kind == "bilabial":  # a short /b/ between frame centres still closes its nearest frame
            inside = (centres >= start) & (centres < end)
            aperture[inside if inside.any() else [int((start + end) / 2 * FPS)]] = 0.0
    return [p[:3] for p in phones], aperture


def shifted(trace: np.ndarray, frames: int) -> np.ndarray:
    """The trace delayed (frames > 0) or advanced (< 0), edges held."""
    index = np.clip(np.arange(trace.size) - frames, 0, trace.size - 1)
    return trace[index]


def pooled_result(candidate, seeds=range(8), lengths=(75, 100, 150), variant=None) -> dict:
    """Score `candidate(reference, rng) -> generated trace` on synthetic clips, pooled like a run."""
    state = BilabialClosure(variant=variant).new_state()
    for seed in seeds:
        for n in lengths:
            rng = np.random.default_rng([seed, n])
            phones, reference = synthetic_clip(rng, n)
            names, starts, ends = zip(*phones)
            bilabials = [(s, e) for p, s, e in phones if p in ("p", "b", "m")]
            counts, _, _ = score_traces(
                candidate(reference, rng), reference, bilabials, vowel_intervals(names, starts, ends), FPS, PARAMS
            )
            state.add(None, counts)
    return state.compute()


CANDIDATES = {
    "perfect": lambda ref, rng: ref,
    "closed still": lambda ref, rng: np.full_like(ref, 0.02),
    "open still": lambda ref, rng: np.full_like(ref, 0.30),
    "half-open still": lambda ref, rng: np.full_like(ref, 0.10),
    "late 1": lambda ref, rng: shifted(ref, 1),
    "early 1": lambda ref, rng: shifted(ref, -1),
    "late 2": lambda ref, rng: shifted(ref, 2),
    "late 4": lambda ref, rng: shifted(ref, 4),
    "random": lambda ref, rng: rng.uniform(0.0, 0.45, ref.size),
    "shuffled": lambda ref, rng: rng.permutation(ref),
    "flicker": lambda ref, rng: np.where(np.arange(ref.size) % 2, 0.0, 0.45),
    "half amplitude": lambda ref, rng: ref * 0.5,
}


@pytest.fixture(scope="module")
def synthetic_scores():
    return {name: pooled_result(candidate) for name, candidate in CANDIDATES.items()}


def test_synthetic_clips_have_both_kinds_of_event(synthetic_scores):
    totals = synthetic_scores["perfect"]["totals"]
    assert totals["reference_closed"] >= 50 and totals["reference_open"] >= 50
    assert totals["reference_closed"] == totals["events"]  # the generator closes on every /p b m/


def test_ground_truth_and_shifts_within_tolerance_score_one(synthetic_scores):
    for name in ("perfect", "late 1", "early 1"):
        assert synthetic_scores[name]["value"] == 1.0, name


def test_stills_earn_at_most_one_of_the_two_recalls(synthetic_scores):
    closed, opened, half = (synthetic_scores[k] for k in ("closed still", "open still", "half-open still"))
    assert (closed["closure_recall"], closed["opening_recall"], closed["value"]) == (1.0, 0.0, 0.5)
    assert (opened["closure_recall"], opened["opening_recall"], opened["value"]) == (0.0, 1.0, 0.5)
    assert half["value"] == 0.0  # neither closed (>= 0.05) nor open (< 0.15)


def test_mouths_that_ignore_the_speech_score_about_half_or_less(synthetic_scores):
    for name in ("random", "shuffled", "flicker"):
        assert synthetic_scores[name]["value"] <= 0.6, (name, synthetic_scores[name])
    # a frame-by-frame flicker closes everywhere but never holds a vowel open
    assert synthetic_scores["flicker"]["closure_recall"] == 1.0 and synthetic_scores["flicker"]["opening_recall"] == 0.0


def test_score_falls_with_the_timing_error(synthetic_scores):
    values = [synthetic_scores[k]["value"] for k in ("late 1", "late 2", "late 4")]
    assert values[0] > values[1] > values[2]
    assert values[1] < 0.95 and values[2] < 0.7
    # moving too little does not open the vowels
    assert (
        synthetic_scores["half amplitude"]["opening_recall"] < 0.8 and synthetic_scores["half amplitude"]["value"] < 0.9
    )


def test_old_closure_recall_is_kept_and_is_what_the_closed_still_games():
    recall = {
        name: pooled_result(CANDIDATES[name], seeds=range(3), variant="bilabial-recall")
        for name in ("perfect", "closed still", "flicker")
    }
    assert all(r["value"] == 1.0 for r in recall.values())  # why closure recall cannot be the headline
    assert recall["closed still"]["balanced"] == 0.5 and recall["perfect"]["balanced"] == 1.0


def test_events_by_hand():
    """One /b/ (frames 10-11) and two vowels, checked frame by frame against the definition."""
    reference = np.full(40, 0.08)
    reference[10:12] = 0.0  # /b/ closes
    reference[18:23] = [0.2, 0.3, 0.4, 0.3, 0.2]  # vowel 1: nucleus 19-21 held >= 0.15
    reference[30:33] = [0.16, 0.3, 0.1]  # vowel 2: nucleus 30-32 dips below 0.15 -> not an open event
    phones = [("b", 10 / FPS, 12 / FPS), ("aa", 17 / FPS, 24 / FPS), ("ae", 29 / FPS, 33 / FPS)]
    bilabials, vowels = [phones[0][1:]], [p[1:] for p in phones[1:]]

    def counts(generated):
        return score_traces(generated, reference, bilabials, vowels, FPS, PARAMS)[0]

    c = counts(reference)
    assert (c["events"], c["reference_closed"], c["vowel_events"], c["reference_open"]) == (1, 1, 2, 1)
    late = reference.copy()
    late[10:12], late[12] = 0.08, 0.0  # closes one frame after the phone: inside the +-1 window
    assert counts(late)["both_closed"] == 1
    late[12], late[13] = 0.08, 0.0  # two frames after: outside
    assert counts(late)["both_closed"] == 0
    held = reference.copy()
    held[18:24] = [0.08, 0.2, 0.2, 0.2, 0.2, 0.08]  # open over 19-22: covers the nucleus 19-21
    assert counts(held)["both_open"] == 1
    held[20] = 0.0  # one shut frame in the middle: not held open at any shift of at most 1
    assert counts(held)["both_open"] == 0
    assert held_aperture(np.array([0.0, 0.3, 0.3, 0.3, 0.0]), np.array([2, 3, 4]), 1) == pytest.approx(0.3)
    assert held_aperture(np.array([0.0, 0.3, 0.3, 0.3, 0.0]), np.array([2, 3, 4]), 0) == pytest.approx(0.0)


def test_vowels_in_every_phone_set_the_protocols_use():
    espeak = ["'a:", "E", "I", "0", "V", "U@", "3:", ",aI", "@", "i:"]
    arpabet = ["aa", "ae", "ah", "ao", "aw", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"]
    timit = ["ax", "ix", "ux", "axr", "ax-h"]
    assert all(is_vowel(p) for p in espeak + arpabet + timit)
    consonants = [
        "v",
        "p",
        "b",
        "m",
        "t",
        "T",
        "D",
        "N",
        "S",
        "tS",
        "j",
        "w",
        "hh",
        "_",
        "sil",
        "sp",
        "h#",
        "el",
        "em",
        "en",
        "eng",
        "epi",
        "",
    ]
    assert not any(is_vowel(p) for p in consonants)


def test_balanced_pooled_state_matches_a_hand_computation():
    rng = np.random.default_rng(5)
    counts = [
        {
            "a": float(rng.integers(0, 4)),
            "b": float(rng.integers(1, 5)),
            "c": float(rng.integers(0, 3)),
            "d": float(rng.integers(0, 6)),
        }
        for _ in range(9)
    ]
    counts[2]["d"] = 0.0  # a clip with no event of the second kind still counts in the sums
    state = PooledState({"ab": ("a", "b"), "cd": ("c", "d")}, primary="value", means={"value": ("ab", "cd")})
    halves = [
        PooledState(state.ratios, state.primary, counts[:4], state.means),
        PooledState(state.ratios, state.primary, counts[4:], state.means),
    ]
    result = halves[1].merge(halves[0]).compute()
    s = {k: sum(c[k] for c in counts) for k in "abcd"}
    assert result["value"] == pytest.approx((s["a"] / s["b"] + s["c"] / s["d"]) / 2)
    assert result["ab"] == pytest.approx(s["a"] / s["b"]) and result["cd"] == pytest.approx(s["c"] / s["d"])
    assert "mean of ratios" in state.aggregation
    ordered = sorted(counts, key=lambda c: sorted(c.items()))  # the state's canonical clip order
    m = {k: np.array([c[k] for c in ordered]) for k in "abcd"}
    boots = []
    for row in bootstrap_indices(len(counts)):
        sb, sd = m["b"][row].sum(), m["d"][row].sum()
        if sb > 0 and sd > 0:
            boots.append((m["a"][row].sum() / sb + m["c"][row].sum() / sd) / 2)
    assert result["ci95"] == pytest.approx(percentile_interval(np.array(boots)))
    only_first_kind = PooledState(state.ratios, "value", [{"a": 1.0, "b": 2.0, "c": 0.0, "d": 0.0}], state.means)
    assert only_first_kind.compute()["value"] is None and only_first_kind.compute()["ab"] == 0.5


def _score_frames(metric_names, clips, make_frames, settings, cache_dir) -> dict:
    """Pool each metric over `clips`, generated frames from `make_frames(clip, reference)`."""
    from benchmark.core.types import Video
    from metrics import create_metric
    from metrics.context import ClipContext

    metrics = [create_metric(name, settings) for name in metric_names]
    for clip in clips:
        reference = clip.load_frames()
        ctx = ClipContext(
            clip, Video(make_frames(clip, reference), clip.fps), reference, cache_dir=cache_dir, settings=settings
        )
        for metric in metrics:
            metric.update(ctx)
    return {m.variant: m.compute() for m in metrics}


def test_mini_closed_and_open_stills_rank_clearly_below_the_ground_truth(mini):
    """The astronaut photo smiles (an open still; mini v1's identity); each clip's first frame, as GRID's
    identity, is closed, and so is mini v2's identity (a rest frame of the ground truth's rendering)."""
    from adapters.ground_truth import GroundTruthAdapter
    from adapters.still import StillAdapter
    from benchmark.core.settings import Settings
    from benchmark.core.types import GenerationRequest
    from protocols.mini import face as F

    settings = Settings.create(data_dir=mini.data_root, environ={})
    clips, cache = mini.clips()[:3], mini.prepared_dir / "features"
    frames = {
        "ground truth": lambda clip, ref: GroundTruthAdapter().generate(GenerationRequest.for_clip(clip), 0).frames,
        "still": lambda clip, ref: StillAdapter().generate(GenerationRequest.for_clip(clip), 0).frames,
        "closed still": lambda clip, ref: np.repeat(ref[:1], len(ref), axis=0),
        "open still": lambda clip, ref: np.repeat(F.load_template(clip.size[0]).image[None], len(ref), axis=0),
    }
    scores = {
        name: _score_frames(("bilabial", "bilabial-recall"), clips, make, settings, cache)
        for name, make in frames.items()
    }
    truth, still, closed, opened = (
        scores[k]["bilabial"] for k in ("ground truth", "still", "closed still", "open still")
    )
    assert truth["value"] == 1.0 and truth["totals"]["reference_closed"] >= 3 and truth["totals"]["reference_open"] >= 3
    for name in ("closed still", "still"):  # the old gap: closure recall alone gives a closed still full marks
        assert scores[name]["bilabial"]["closure_recall"] == scores[name]["bilabial-recall"]["value"] == 1.0, name
    assert closed["value"] <= 0.5 and still["value"] <= 0.5 and opened["value"] <= 0.5
    assert opened["closure_recall"] == scores["open still"]["bilabial-recall"]["value"] == 0.0


@pytest.fixture(scope="module")
def fake_grid_runs(mini, tmp_path_factory):
    """One GRID speaker, one clip, prepared by the real code, scored by the runner (ground truth, still)."""
    from benchmark.engine.runner import RunConfig, Runner
    from protocols.corpora import GridProtocol
    from tests.fake_corpora import make_fake_grid

    source, data = tmp_path_factory.mktemp("grid-source"), tmp_path_factory.mktemp("grid-data")
    make_fake_grid(mini, source, speakers=("s2",), per_speaker=1)
    assert GridProtocol(data).prepare(source, workers=1).clips == 1
    records = {}
    for model in ("ground-truth", "still"):
        config = RunConfig(
            model=model,
            dataset="grid",
            metrics=("bilabial", "bilabial-recall"),
            data_dir=data,
            runs_dir=tmp_path_factory.mktemp("grid-runs"),
        )
        records[model] = Runner(config, progress=False, log=lambda s: None).run().record
    return records


def test_fake_grid_still_no_longer_scores_like_the_ground_truth(fake_grid_runs):
    truth, still = (fake_grid_runs[m]["results"] for m in ("ground-truth", "still"))
    assert truth["bilabial"]["value"] == 1.0
    # GRID's identity image is the clip's first frame, mouth closed: perfect on closure recall alone
    assert still["bilabial-recall"]["value"] == 1.0 == still["bilabial"]["closure_recall"]
    assert still["bilabial"]["value"] == 0.5 and still["bilabial"]["opening_recall"] == 0.0
    specs = {s["variant"]: s for s in fake_grid_runs["still"]["metrics"]}
    assert specs["bilabial"]["aggregation"].startswith("mean of ratios of sums")
    assert (
        specs["bilabial"]["params"]["open_threshold"] == 0.15
        and specs["bilabial-recall"]["params"]["headline"] == "closure_recall"
    )
    assert specs["bilabial"]["column"] != specs["bilabial-recall"]["column"]


def test_without_phone_alignments_bilabial_is_na_and_the_run_says_why(mini_data_root, tmp_path, monkeypatch):
    """A protocol with no phone timings (a folder of videos prepared without alignments): n/a, not 'no clip scored'."""
    from click.testing import CliRunner

    from benchmark.cli import cli
    from benchmark.reports.frames import empty_status
    from benchmark.core.records import load_record
    from metrics.features import Phones

    real = Phones.compute
    monkeypatch.setattr(
        Phones,
        "compute",
        lambda self, ctx, which: {k: v for k, v in real(self, ctx, which).items() if not k.startswith("phone")},
    )
    monkeypatch.setenv("BENCH_DATA", str(mini_data_root))
    result = CliRunner().invoke(
        cli,
        [
            "run",
            "--model",
            "still",
            "--dataset",
            "mini",
            "--limit",
            "2",
            "--metrics",
            "psnr,bilabial",
            "--out",
            str(tmp_path),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "bilabial     —  [0/2] n/a: no phone alignments" in result.output
    record = load_record(next(tmp_path.rglob("record.json")).parent)
    bilabial = record["results"]["bilabial"]
    assert (
        bilabial["value"] is None and bilabial["n_na"] == 2 and bilabial["na_reason"].startswith("no phone alignments")
    )
    assert empty_status(bilabial) == "n/a: no phone alignments"
    assert "na_reason" not in record["results"]["psnr"]
