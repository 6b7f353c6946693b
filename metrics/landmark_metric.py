"""Shared parts of the metrics computed from face landmarks (LMD, blink, bilabial)."""

from __future__ import annotations

from typing import Any, ClassVar

from benchmark.perception.base import LandmarkBackend
from benchmark.perception.head_pose import pose_points
from benchmark.perception.registry import get_landmark_backend
from metrics.aggregation import resolve
from metrics.base import Metric

LANDMARK_DEFAULTS: dict[str, Any] = {"landmarks": "mediapipe", "min_face_coverage": 0.9}


class LandmarkMetric(Metric):
    backend = "landmarks: mediapipe (default) | dlib68 (upsample 1) | dlib68-up0 | fan, fan-s3fd (face-alignment, user weights)"
    default_params: ClassVar[dict[str, Any]] = dict(LANDMARK_DEFAULTS)
    features = ("landmarks",)

    def landmark_backend(self) -> LandmarkBackend:
        """This metric's landmark backend on its settings' device and weights folder."""
        return get_landmark_backend(self.params["landmarks"], self.settings.device, self.settings.weights_dir)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        """The landmark backend's version; for a metric of the head pose, also which rigid points it fits
        (the face mesh's with mediapipe, iBUG-68's with the others): its angles depend on that."""
        backend = get_landmark_backend(params["landmarks"], settings.device, settings.weights_dir)
        if "head-pose" not in resolve(cls.features, params):
            return backend.version()
        return f"{backend.version()}; head pose: weak-perspective fit of {pose_points(backend.keeps_rigid_mesh)}"
