"""Bilabial-event check: does the mouth close on /p/ /b/ /m/ *and* open on the vowels, as the
ground truth does?

Closure alone is gameable: a still image whose mouth is closed "closes" on every event (recall
1.0 on GRID, where the identity image is the clip's first, closed-mouth frame). So the headline
is a balanced score, the mean of two recalls pooled over the protocol:
- closure recall: of the /p b m/ events the ground truth closes on (aperture below
  `closure_threshold` on some frame of the phone widened by `tolerance_frames`), the share the
  generated video closes on too (the old headline, kept as `closure_recall` and as the variant
  `bilabial-recall`);
- opening recall: of the vowel phones the ground truth opens on (aperture at least
  `open_threshold` on every frame of the vowel's nucleus: its most open frame +-
  `nucleus_halfwidth_frames`), the share the generated video holds open over the nucleus,
  shifted by at most `tolerance_frames`.
Any mouth that ignores the speech (closed, open, half-open, random) earns at most one of the
two: about 0.5 or less; the ground truth scores 1. Aperture: inner-lip gap / mouth width.
docs/bilabial.md has the definition and the measured scores of such traces.
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.core.errors import MetricNotApplicable
from benchmark.perception.face_geometry import fill_missing, mouth_aperture
from metrics.aggregation import ByParam, Pooled
from metrics.base import Channels, ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric

BILABIAL_PHONES = frozenset({"p", "b", "m"})
# vowels in the phone sets the protocols use: espeak (mini: a E I 0 V U @ 3 ...), CMUdict/ARPAbet
# (GRID, lower-cased: aa ae ah ... uw), TIMIT-style (TCD-TIMIT: ... ax ix ux); case matters (espeak V vs v)
VOWEL_INITIALS = frozenset("aeiouAEIOU@3V0")
SYLLABIC_CONSONANTS = frozenset({"el", "em", "en", "eng", "epi"})  # TIMIT labels that start like vowels


def _phone_base(phone) -> str:
    """Phone symbol without stress (' ,) and length (:) marks: "'a:" -> "a"."""
    return str(phone).replace("'", "").replace(",", "").rstrip(":")


def is_vowel(phone) -> bool:
    base = _phone_base(phone)
    return bool(base) and base[0] in VOWEL_INITIALS and base.lower() not in SYLLABIC_CONSONANTS


def bilabial_intervals(phones, starts, ends) -> list[tuple[float, float]]:
    """Bilabial phone intervals in seconds; back-to-back bilabials ("m b") form one closure."""
    out: list[list[float]] = []
    for phone, start, end in zip(phones, starts, ends):
        if _phone_base(phone).lower() not in BILABIAL_PHONES:
            continue
        if out and abs(out[-1][1] - start) < 1e-6:
            out[-1][1] = float(end)
        else:
            out.append([float(start), float(end)])
    return [(s, e) for s, e in out]


def vowel_intervals(phones, starts, ends) -> list[tuple[float, float]]:
    """Vowel phone intervals in seconds, one per phone (a diphthong is one phone)."""
    return [(float(s), float(e)) for phone, s, e in zip(phones, starts, ends) if is_vowel(phone)]


def event_frames(start: float, end: float, fps: float, n_frames: int, tolerance: int) -> np.ndarray:
    """Frames whose time span [i/fps, (i+1)/fps) overlaps [start, end), widened by `tolerance`."""
    first = int(math.floor(start * fps)) - tolerance
    last = int(math.ceil(end * fps)) - 1 + tolerance
    return np.arange(max(first, 0), min(last, n_frames - 1) + 1)


def closure_events(
    generated: np.ndarray, reference: np.ndarray, windows: list[np.ndarray], threshold: float
) -> list[dict]:
    """Per bilabial event (frames of the phone +- tolerance): each trace's minimum aperture there,
    whether it closes (minimum below `threshold`), and the frame where the ground truth closes most."""
    out = []
    for frames in windows:
        if frames.size == 0:
            continue
        gen_min, ref_min = float(generated[frames].min()), float(reference[frames].min())
        out.append(
            {
                "frame": int(frames[np.argmin(reference[frames])]),
                "generated_min_aperture": gen_min,
                "reference_min_aperture": ref_min,
                "generated_closed": gen_min < threshold,
                "reference_closed": ref_min < threshold,
            }
        )
    return out


def held_aperture(trace: np.ndarray, nucleus: np.ndarray, tolerance: int) -> float:
    """The highest aperture `trace` holds over every frame of `nucleus`, the nucleus shifted by at
    most `tolerance` frames (the same timing slack the closure window gives)."""
    n = trace.size
    return max(float(trace[np.clip(nucleus + shift, 0, n - 1)].min()) for shift in range(-tolerance, tolerance + 1))


def opening_events(
    generated: np.ndarray,
    reference: np.ndarray,
    vowels: list[np.ndarray],
    threshold: float,
    halfwidth: int,
    tolerance: int,
) -> list[dict]:
    """Per vowel phone (its frames, not widened): the nucleus is the ground truth's most open frame
    +- `halfwidth`. A trace opens there if it holds at least `threshold` on every nucleus frame
    (the ground truth in place, the generated video shifted by at most `tolerance` frames): held
    open, so a mouth flickering open and shut frame by frame does not pass. Vowels sharing a peak
    frame count once."""
    out, seen = [], set()
    n = reference.size
    for frames in vowels:
        if frames.size == 0:
            continue
        peak = int(frames[np.argmax(reference[frames])])
        if peak in seen:
            continue
        seen.add(peak)
        nucleus = np.arange(max(peak - halfwidth, 0), min(peak + halfwidth, n - 1) + 1)
        gen_held, ref_held = held_aperture(generated, nucleus, tolerance), float(reference[nucleus].min())
        out.append(
            {
                "frame": peak,
                "generated_held_aperture": gen_held,
                "reference_held_aperture": ref_held,
                "generated_open": gen_held >= threshold,
                "reference_open": ref_held >= threshold,
            }
        )
    return out


def event_counts(closures: list[dict], openings: list[dict]) -> dict[str, float]:
    """The additive counts behind every pooled result (see BilabialClosure.new_state)."""
    return dict(
        events=len(closures),
        generated_closed=sum(e["generated_closed"] for e in closures),
        reference_closed=sum(e["reference_closed"] for e in closures),
        both_closed=sum(e["generated_closed"] and e["reference_closed"] for e in closures),
        generated_aperture_sum=sum(e["generated_min_aperture"] for e in closures),
        reference_aperture_sum=sum(e["reference_min_aperture"] for e in closures),
        vowel_events=len(openings),
        generated_open=sum(e["generated_open"] for e in openings),
        reference_open=sum(e["reference_open"] for e in openings),
        both_open=sum(e["generated_open"] and e["reference_open"] for e in openings),
        generated_vowel_aperture_sum=sum(e["generated_held_aperture"] for e in openings),
        reference_vowel_aperture_sum=sum(e["reference_held_aperture"] for e in openings),
    )


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def balanced_score(counts: dict[str, float]) -> float | None:
    """Mean of closure recall and opening recall; None unless the ground truth both closes and opens."""
    closure, opening = (
        _ratio(counts["both_closed"], counts["reference_closed"]),
        _ratio(counts["both_open"], counts["reference_open"]),
    )
    return None if closure is None or opening is None else (closure + opening) / 2


def score_traces(
    generated: np.ndarray,
    reference: np.ndarray,
    bilabials: list[tuple[float, float]],
    vowels: list[tuple[float, float]],
    fps: float,
    params: dict,
) -> tuple[dict, list[dict], list[dict]]:
    """Aperture traces (T,) of both videos and the phone intervals -> (counts, closure events, opening events)."""
    n, tol = reference.size, params["tolerance_frames"]
    spans = [(s, e, event_frames(s, e, fps, n, tol)) for s, e in bilabials]
    spans = [span for span in spans if span[2].size]  # phones past the clip's last frame
    closures = closure_events(generated, reference, [frames for *_, frames in spans], params["closure_threshold"])
    for (start, end, _), event in zip(spans, closures):
        event.update(start=start, end=end)
    openings = opening_events(
        generated,
        reference,
        [event_frames(s, e, fps, n, 0) for s, e in vowels],
        params["open_threshold"],
        params["nucleus_halfwidth_frames"],
        tol,
    )
    return event_counts(closures, openings), closures, openings


STRIP_SIZE = (48, 80)  # (h, w) of the mouth crops kept per event


def mouth_strip(generated: np.ndarray, reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, h, w, 3) uint8: the same mouth box (from the ground truth's landmarks) cut from both frames."""
    from PIL import Image

    mouth = points[48:68]
    if not np.isfinite(mouth).all():
        return np.zeros((2, *STRIP_SIZE, 3), np.uint8)
    cx, cy = mouth.mean(0)
    half_w = max(8.0, (mouth[:, 0].max() - mouth[:, 0].min()) * 0.8)
    half_h = half_w * STRIP_SIZE[0] / STRIP_SIZE[1]
    box = tuple(int(round(v)) for v in (cx - half_w, cy - half_h, cx + half_w, cy + half_h))
    return np.stack(
        [
            np.asarray(Image.fromarray(f).crop(box).resize(STRIP_SIZE[::-1], Image.BILINEAR))
            for f in (generated, reference)
        ]
    )


HEADLINES = ("mean(closure_recall, opening_recall)", "closure_recall")

# the pooled results, each a ratio of counts summed over clips (event_counts' keys)
RATIOS = {
    "closure_recall": ("both_closed", "reference_closed"),
    "opening_recall": ("both_open", "reference_open"),
    "closure_rate": ("generated_closed", "events"),
    "reference_closure_rate": ("reference_closed", "events"),
    "opening_rate": ("generated_open", "vowel_events"),
    "reference_opening_rate": ("reference_open", "vowel_events"),
    "mean_aperture_at_events": ("generated_aperture_sum", "events"),
    "reference_mean_aperture_at_events": ("reference_aperture_sum", "events"),
    "held_aperture_at_vowels": ("generated_vowel_aperture_sum", "vowel_events"),
    "reference_held_aperture_at_vowels": ("reference_vowel_aperture_sum", "vowel_events"),
}
BALANCED = ("closure_recall", "opening_recall")


class BilabialClosure(LandmarkMetric):
    name = "bilabial"
    direction = "higher"
    description = (
        "Mean of closure recall on /p b m/ and opening recall on vowels (the mouth closes and opens where "
        "the ground truth does; a still scores <= 0.5)"
    )
    default_params = {
        **LANDMARK_DEFAULTS,
        "aperture": "inner-gap/mouth-width",
        "closure_threshold": 0.05,
        "tolerance_frames": 1,
        "open_threshold": 0.15,
        "nucleus_halfwidth_frames": 1,
        "open_events": "vowels: ground truth's peak frame +- halfwidth, held open",
        "headline": HEADLINES[0],
    }
    # the pre-2026 headline, closure recall alone: reproduces old numbers (a closed still scores 1.0 on it)
    variants = {"bilabial-recall": {"headline": "closure_recall"}}
    features = ("landmarks", "phones", "frames")  # frames: the mouth strips kept per event
    aggregation = ByParam(
        "headline",
        {
            HEADLINES[0]: Pooled(RATIOS, primary="value", means={"value": BALANCED}),
            "closure_recall": Pooled(
                {"value": RATIOS["closure_recall"], **RATIOS}, primary="value", means={"balanced": BALANCED}
            ),
        },
    )
    channels = Channels(
        value=True, pooled=tuple(event_counts([], [])), artifacts=("aperture", "reference_aperture", "strips")
    )

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        notes = ctx.feature("phones")
        if "phones" not in notes or not len(notes["phones"]):
            raise MetricNotApplicable(
                "no phone alignments: without phone timings there are no /p b m/ events or vowels "
                "to check (prepare the protocol with its alignments)"
            )
        p = self.params
        aperture = {}
        for which in ("generated", "reference"):
            track = ctx.feature("landmarks", which, backend=p["landmarks"])
            require_coverage(track.found, p["min_face_coverage"], f"{self.variant} ({which})")
            aperture[which] = fill_missing(mouth_aperture(track.points), track.found)
        phones = (notes["phones"], notes["phone_start"], notes["phone_end"])
        counts, closures, openings = score_traces(
            aperture["generated"],
            aperture["reference"],
            bilabial_intervals(*phones),
            vowel_intervals(*phones),
            ctx.clip.fps,
            p,
        )
        reference_points = ctx.feature("landmarks", "reference", backend=p["landmarks"]).points
        generated_frames, reference_frames = ctx.feature("frames", "generated"), ctx.feature("frames", "reference")
        per_event, strips = [], []
        for event in closures:
            frame = event["frame"]  # where the ground truth closes most
            per_event.append(
                {
                    "start": round(event["start"], 4),
                    "end": round(event["end"], 4),
                    "frame": frame,
                    "generated_min_aperture": round(event["generated_min_aperture"], 4),
                    "reference_min_aperture": round(event["reference_min_aperture"], 4),
                }
            )
            strips.append(mouth_strip(generated_frames[frame], reference_frames[frame], reference_points[frame]))
        vowels = [
            {
                "frame": e["frame"],
                "generated_held_aperture": round(e["generated_held_aperture"], 4),
                "reference_held_aperture": round(e["reference_held_aperture"], 4),
                "reference_open": bool(e["reference_open"]),
                "generated_open": bool(e["generated_open"]),
            }
            for e in openings
        ]
        if p["headline"] == "closure_recall":
            value = _ratio(counts["both_closed"], counts["reference_closed"])
        else:
            value = balanced_score(counts)
        # per-frame series and mouth crops for the leaderboard's plots and frame strips
        artifacts = {
            "aperture": aperture["generated"].astype(np.float32),
            "reference_aperture": aperture["reference"].astype(np.float32),
            "strips": np.stack(strips) if strips else np.zeros((0, 2, *STRIP_SIZE, 3), np.uint8),
        }
        return ClipValue(
            value, pooled=counts, extras={"events": per_event, "vowel_nuclei": vowels}, artifacts=artifacts
        )
