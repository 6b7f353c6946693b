"""LMD: mouth landmark distance between generated and ground-truth frames (thesis eq. 5.6).

Default: the 20 mouth points (iBUG 48-67), Euclidean distance per point, mean over points and
frames, in pixels at the evaluated resolution. Variants name what other papers did instead.
"""

from __future__ import annotations

import numpy as np

from benchmark.perception.face_geometry import MOUTH
from metrics.base import ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric


def landmark_distance(
    generated: np.ndarray, reference: np.ndarray, centered: bool, distance: str, reduce_points: str
) -> np.ndarray:
    """(T, P, 2) x 2 -> (T,) per-frame distance under the chosen convention."""
    g, r = generated.astype(np.float64), reference.astype(np.float64)
    if centered:
        g = g - g.mean(axis=1, keepdims=True)
        r = r - r.mean(axis=1, keepdims=True)
    if distance == "l1":
        per_point = np.abs(g - r).mean(axis=2)  # mean absolute per-coordinate error
    else:
        per_point = np.linalg.norm(g - r, axis=2)
    return per_point.sum(axis=1) if reduce_points == "sum" else per_point.mean(axis=1)


class LMD(LandmarkMetric):
    name = "lmd"
    direction = "lower"
    unit = "px"
    description = "Mouth landmark distance (iBUG 48-67), Euclidean, mean over points and frames, pixels"
    default_params = {
        **LANDMARK_DEFAULTS,
        "points": "mouth-48-67",
        "distance": "euclidean",
        "reduce_points": "mean",
        "centered": False,
    }
    variants = {
        "lmd-centered": {"centered": True},  # ATVGnet, RAD-NeRF family: each frame's mouth minus its mean
        "lmd-sum": {"reduce_points": "sum"},  # ATVGnet's script: sum over the 20 points
        "lmd-l1": {"distance": "l1"},  # ViCo, Vougioukas `fae`: mean absolute per-coordinate error
    }

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        backend = self.params["landmarks"]
        gen = ctx.feature("landmarks", "generated", backend=backend)
        ref = ctx.feature("landmarks", "reference", backend=backend)
        both = gen.found & ref.found
        require_coverage(both, self.params["min_face_coverage"], self.variant)
        per_frame = landmark_distance(
            gen.points[both][:, MOUTH],
            ref.points[both][:, MOUTH],
            self.params["centered"],
            self.params["distance"],
            self.params["reduce_points"],
        )
        return ClipValue(
            float(per_frame.mean()),
            extras={
                "frames_scored": int(both.sum()),
                "frames_without_face_generated": int((~gen.found).sum()),
                "frames_without_face_reference": int((~ref.found).sum()),
            },
        )
