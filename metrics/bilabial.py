"""Bilabial-event check: does the mouth close on /p/ /b/ /m/ as the ground truth does?

For each bilabial phone interval (from the protocol's alignments), the mouth counts as closed
if its aperture (inner-lip gap / mouth width) falls below `closure_threshold` on some frame
overlapping the interval, widened by `tolerance_frames` on each side. Pooled over the
protocol: recall (events the ground truth closes on that the generated video closes on too,
the headline), the generated and ground-truth closure rates, and the mean aperture at events.
"""

from __future__ import annotations

import math

import numpy as np

from benchmark.errors import MetricNotApplicable
from benchmark.perception.face_geometry import fill_missing, mouth_aperture
from benchmark.stats import PooledState
from metrics.base import ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric

BILABIAL_PHONES = frozenset({"p", "b", "m"})


def bilabial_intervals(phones, starts, ends) -> list[tuple[float, float]]:
    """Bilabial phone intervals in seconds; back-to-back bilabials ("m b") form one closure."""
    out: list[list[float]] = []
    for phone, start, end in zip(phones, starts, ends):
        base = str(phone).replace("'", "").replace(",", "").rstrip(":").lower()
        if base not in BILABIAL_PHONES:
            continue
        if out and abs(out[-1][1] - start) < 1e-6:
            out[-1][1] = float(end)
        else:
            out.append([float(start), float(end)])
    return [(s, e) for s, e in out]


def event_frames(start: float, end: float, fps: float, n_frames: int, tolerance: int) -> np.ndarray:
    """Frames whose time span [i/fps, (i+1)/fps) overlaps [start, end), widened by `tolerance`."""
    first = int(math.floor(start * fps)) - tolerance
    last = int(math.ceil(end * fps)) - 1 + tolerance
    return np.arange(max(first, 0), min(last, n_frames - 1) + 1)


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
    return np.stack([np.asarray(Image.fromarray(f).crop(box).resize(STRIP_SIZE[::-1], Image.BILINEAR)) for f in (generated, reference)])


class BilabialClosure(LandmarkMetric):
    name = "bilabial"
    direction = "higher"
    description = "Recall of mouth closures on /p b m/ events (generated closes where the ground truth does)"
    default_params = {**LANDMARK_DEFAULTS, "aperture": "inner-gap/mouth-width", "closure_threshold": 0.05,
                      "tolerance_frames": 1}

    def new_state(self) -> PooledState:
        return PooledState(
            ratios={"value": ("both_closed", "reference_closed"), "closure_rate": ("generated_closed", "events"),
                    "reference_closure_rate": ("reference_closed", "events"),
                    "mean_aperture_at_events": ("generated_aperture_sum", "events"),
                    "reference_mean_aperture_at_events": ("reference_aperture_sum", "events")},
            primary="value")

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        notes = ctx.annotations()
        if "phones" not in notes:
            raise MetricNotApplicable(f"bilabial: clip {ctx.clip.id} has no phone alignment to find /p b m/ events in")
        p, fps, n = self.params, ctx.clip.fps, ctx.generated.n_frames
        minima = {}
        for which in ("generated", "reference"):
            track = ctx.landmarks(which, p["landmarks"])
            require_coverage(track.found, p["min_face_coverage"], f"bilabial ({which})")
            minima[which] = fill_missing(mouth_aperture(track.points), track.found)
        counts = dict(events=0, generated_closed=0, reference_closed=0, both_closed=0,
                      generated_aperture_sum=0.0, reference_aperture_sum=0.0)
        per_event, strips = [], []
        reference_points = ctx.landmarks("reference", p["landmarks"])
        for start, end in bilabial_intervals(notes["phones"], notes["phone_start"], notes["phone_end"]):
            frames = event_frames(start, end, fps, n, p["tolerance_frames"])
            if frames.size == 0:
                continue
            gen_min, ref_min = float(minima["generated"][frames].min()), float(minima["reference"][frames].min())
            gen_closed, ref_closed = gen_min < p["closure_threshold"], ref_min < p["closure_threshold"]
            counts["events"] += 1
            counts["generated_closed"] += gen_closed
            counts["reference_closed"] += ref_closed
            counts["both_closed"] += gen_closed and ref_closed
            counts["generated_aperture_sum"] += gen_min
            counts["reference_aperture_sum"] += ref_min
            frame = int(frames[np.argmin(minima["reference"][frames])])  # where the ground truth closes most
            per_event.append({"start": round(start, 4), "end": round(end, 4), "generated_min_aperture": round(gen_min, 4),
                              "reference_min_aperture": round(ref_min, 4), "frame": frame})
            strips.append(mouth_strip(ctx.generated.frames[frame], ctx.reference[frame], reference_points.points[frame]))
        value = counts["both_closed"] / counts["reference_closed"] if counts["reference_closed"] else None
        # per-frame series and mouth crops for the leaderboard's plots and frame strips
        artifacts = {"aperture": minima["generated"].astype(np.float32), "reference_aperture": minima["reference"].astype(np.float32),
                     "strips": np.stack(strips) if strips else np.zeros((0, 2, *STRIP_SIZE, 3), np.uint8)}
        return ClipValue(value, pooled=counts, extras={"events": per_event}, artifacts=artifacts)
