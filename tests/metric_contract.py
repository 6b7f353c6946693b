"""The contract every registered metric keeps, as checks a test runs over the registry (and over
the plugin of docs/metrics.md): tiny synthetic clips, scored the way a worker scores them.

Clips are 64x64 renders of the mini protocol's face (mediapipe finds it at that size), 16 frames
at 25 fps with phones and seeded noise audio; a faceless clip (8 frames of noise) and a 2-frame clip test the
outcomes a metric must give instead of crashing. Weights this machine lacks are random files in
the official layouts (as tests/test_lse_variants.py, test_fvd.py, test_lpips.py fake them):
the plumbing is tested, the magnitudes mean nothing.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.core.video import Video
from benchmark.engine.plan import column_id
from benchmark.engine.worker import score_metric
from metrics import declare_metric, recorded_metric
from metrics.aggregation import Aggregation, Channels
from metrics.base import FEATURES
from metrics.context import ClipContext
from metrics.tracking import ClipMetric, FramesClip

SIZE, FPS, RATE, N_FRAMES = 64, 25.0, 16000, 16
PHONES = [("sil", 0.0, 0.08), ("p", 0.08, 0.2), ("aa", 0.2, 0.36), ("m", 0.36, 0.48), ("iy", 0.48, 0.64)]
MERGED_CLIPS = ("a", "b", "c")


@lru_cache(maxsize=1)
def _rendered() -> np.ndarray:
    """(24, SIZE, SIZE, 3) uint8: the mini face with the mouth and eyes in planted states."""
    from benchmark.core.media import resize_frame
    from protocols.mini import build, choreography

    frames = []
    for t in range(24):
        aperture = 0.04 + 0.3 * abs(math.sin(t / 2.5))
        frame, _ = build.render_frame(aperture, 0.15 if t % 9 == 4 else 1.0, choreography.NEUTRAL_MOTION)
        frames.append(resize_frame(frame, (SIZE, SIZE), "lanczos"))
    return np.stack(frames)


def _annotations(phones=PHONES) -> dict:
    return {
        "phones": np.asarray([p for p, _, _ in phones], dtype="<U8"),
        "phone_start": np.asarray([s for _, s, _ in phones], dtype=np.float64),
        "phone_end": np.asarray([e for _, _, e in phones], dtype=np.float64),
    }


@lru_cache(maxsize=None)
def clip_frames(key: str) -> tuple[np.ndarray, np.ndarray]:
    """(generated, reference) frames of the synthetic clip `key`."""
    faces = _rendered()
    if key == "faceless":
        noise = np.random.default_rng(7).integers(0, 256, (N_FRAMES // 2, SIZE, SIZE, 3), dtype=np.uint8)
        return noise, noise[::-1].copy()
    if key == "short":
        return faces[:2], faces[1:3]
    start = {"a": 0, "b": 3, "c": 6}[key]
    reference = faces[start : start + N_FRAMES]
    generated = np.roll(reference, 2, axis=0)  # the right mouth shapes, two frames late
    return generated, reference


def clip_audio(n_frames: int) -> np.ndarray:
    return (np.random.default_rng(n_frames).standard_normal(int(n_frames / FPS * RATE)) * 0.1).astype(np.float32)


def make_context(key: str, settings, cache_dir=None) -> ClipContext:
    generated, reference = clip_frames(key)
    clip = FramesClip(f"contract-{key}", FPS, reference[0], _annotations(), clip_audio(len(reference)), RATE)
    return ClipContext(clip, Video(generated, FPS), reference, cache_dir=cache_dir, settings=settings)


class Scoring:
    """Each metric built once and each synthetic clip's context shared by every metric (as a worker
    shares a clip's features); outcomes memoised, so one scoring serves every check."""

    def __init__(self, settings, cache_dir=None):
        """`cache_dir`: where reference features persist, as a prepared protocol's do (a fresh
        context then reads them back, as the next run would)."""
        self.settings, self.cache_dir = settings, cache_dir
        self._metrics: dict[str, object] = {}
        self._contexts: dict[str, ClipContext] = {}
        self._outcomes: dict[tuple[str, str], object] = {}

    def metric(self, name: str):
        """The built metric, or a BenchError saying what it needs that is not here."""
        if name not in self._metrics:
            declared = declare_metric(name, self.settings)
            declared.check()
            self._metrics[name] = declared.build()
        return self._metrics[name]

    def outcome(self, name: str, key: str, fresh: bool = False):
        """The worker's outcome of `name` on clip `key`; `fresh`: in a new context (nothing shared)."""
        memo = (name, key + ("/fresh" if fresh else ""))
        if memo not in self._outcomes:
            context_key = memo[1]
            if context_key not in self._contexts:
                self._contexts[context_key] = make_context(key, self.settings, self.cache_dir)
            self._outcomes[memo] = score_metric(self.metric(name), self._contexts[context_key])
        return self._outcomes[memo]


# ---- the checks ------------------------------------------------------------------------------


def check_declaration(name: str, settings) -> None:
    """Declared as data: known features, channels that cover what the aggregation reads, an
    aggregation whose description is its state's, and no scorer needed for any of it."""
    declared = declare_metric(name, settings)
    assert declared.direction in ("higher", "lower", "closest-to-ground-truth"), declared.direction
    assert declared.features and set(declared.features) <= set(FEATURES), (name, declared.features)
    assert isinstance(declared.channels, Channels) and isinstance(declared.aggregation, Aggregation)
    assert declared.channels.covers(declared.aggregation.reads()), (
        name,
        declared.channels,
        declared.aggregation.reads(),
    )
    state = declared.aggregation.new_state()
    assert getattr(state, "aggregation", declared.aggregation.description) == declared.aggregation.description
    assert getattr(state, "consumes_artifacts", False) == declared.aggregation.consumes_artifacts
    for variant in declared.cls.variants:
        other = declare_metric(variant, settings)
        assert other.variant == variant and other.aggregation.description and set(other.features) <= set(FEATURES)


def check_spec_rebuilds_column(name: str, settings) -> None:
    """A spec written to a plan or record (through JSON) rebuilds its column id both ways: from the record
    alone (reduce, compare) and by a worker declaring the variant again."""
    cls = declare_metric(name, settings).cls
    for variant in (cls.name, *cls.variants):
        declared = declare_metric(variant, settings)
        if variant != cls.name and unavailable(variant, settings):  # e.g. fid-pytorch-fid without pytorch-fid
            continue
        spec = declared.spec().to_dict()
        spec = json.loads(json.dumps({**spec, "column": column_id(spec)}))
        recorded = recorded_metric(spec)
        assert recorded.params == spec["params"], (variant, recorded.params, spec["params"])
        assert column_id({**spec, "params": recorded.params}) == spec["column"]
        assert column_id(declare_metric(variant, settings).spec().to_dict()) == spec["column"]
        assert recorded.aggregation.description == declared.aggregation.description


def _comparable(outcome) -> tuple:
    score = {k: v for k, v in outcome.score.items() if k != "seconds"}
    arrays = {k: np.asarray(v) for k, v in outcome.artifacts.items()}
    return json.dumps(score, sort_keys=True, default=str), {
        k: (a.shape, a.dtype.str, a.tobytes()) for k, a in arrays.items()
    }


def check_deterministic(scoring: Scoring, name: str) -> None:
    first, again = scoring.outcome(name, "a"), scoring.outcome(name, "a", fresh=True)
    assert first.traceback is None, first.traceback
    assert first.score["status"] == "ok", first.score
    assert _comparable(first) == _comparable(again)


def _state(declared, outcomes):
    state = declared.aggregation.new_state()
    for outcome in outcomes:
        score = outcome.score
        state.add(score.get("value"), score.get("pooled"), outcome.artifacts or None)
    return state


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-9) or (math.isnan(a) and math.isnan(b))
    return a == b


def check_merge_order(scoring: Scoring, name: str) -> None:
    """Clips added in any order, or partial states merged in any order, give the same result."""
    declared = declare_metric(name, scoring.settings)
    outcomes = {k: scoring.outcome(name, k) for k in MERGED_CLIPS}
    assert all(o.score["status"] == "ok" for o in outcomes.values()), {k: o.score for k, o in outcomes.items()}
    forward = _state(declared, [outcomes[k] for k in "abc"]).compute()
    backward = _state(declared, [outcomes[k] for k in "cba"]).compute()
    merged = _state(declared, [outcomes["c"]]).merge(_state(declared, [outcomes["a"], outcomes["b"]])).compute()
    assert _close(forward, backward), (forward, backward)
    assert _close(forward, merged), (forward, merged)


NEEDS_A_FACE = {"landmarks"}


def check_faceless_and_short(scoring: Scoring, name: str) -> None:
    """A faceless clip and a 2-frame clip end as the metric's own status, never as a crash of the clip:
    ok, or n/a / failed with a reason from the metric (ClipError, MetricNotApplicable), not a bug's exception."""
    declared = declare_metric(name, scoring.settings)
    for key in ("faceless", "short"):
        outcome = scoring.outcome(name, key)
        assert outcome.traceback is None, f"{name} on the {key} clip raised unexpectedly:\n{outcome.traceback}"
        status = outcome.score["status"]
        assert status in ("ok", "n/a", "failed"), outcome.score
        if status != "ok":
            assert outcome.score["reason"].strip(), outcome.score
    if NEEDS_A_FACE & set(declared.features):
        faceless = scoring.outcome(name, "faceless").score
        assert faceless["status"] in ("n/a", "failed"), f"{name} needs a face but scored a faceless clip: {faceless}"


def check_clip_metric(scoring: Scoring, name: str) -> None:
    """Offered as a torchmetrics Metric with the run's number, or refused with its declared reason."""
    declared = declare_metric(name, scoring.settings)
    reason = declared.aggregation.untracked
    if reason is not None:
        assert reason.strip()
        try:
            ClipMetric(name, scoring.settings)
        except ValueError as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(f"ClipMetric({name!r}) accepted an aggregation declared untracked: {reason}")
        return
    tracked = ClipMetric(name, scoring.settings, fps=FPS)
    for key in MERGED_CLIPS:
        generated, reference = clip_frames(key)
        tracked.update(
            generated,
            reference,
            identity=reference[0],
            phones=PHONES,
            audio=clip_audio(len(reference)),
            sample_rate=RATE,
        )
    expected = _state(declared, [scoring.outcome(name, k) for k in MERGED_CLIPS]).compute()["value"]
    value = float(tracked.compute())
    assert (expected is None and math.isnan(value)) or math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-12), (
        name,
        value,
        expected,
    )


def unavailable(name: str, settings) -> str | None:
    """Why `name` cannot be built here (its requirements check), or None."""
    try:
        declare_metric(name, settings).check()
    except BenchError as exc:
        return exc.message
    return None
