"""Face landmark backends, all returning the iBUG-68 layout the metrics need.

`mediapipe` (default): the 478-point face mesh bundled in mediapipe 0.10.21, reduced to the 68
iBUG points by a correspondence fitted on the mini protocol's planted landmarks
(`assets/mediapipe_ibug68.json`, made by scripts/fit_mediapipe_ibug68.py); its track also keeps the
mesh's rigid points with their depth (`rigid_mesh`), which the head pose is fitted to.
`dlib68`: dlib's HOG detector (upsample 1) + 68-point shape predictor from face_recognition_models
(offline); `dlib68-up0`: the same with the earlier policy (upsample 0, 1 only where no face is found).
Points are float64 pixels whatever the backend computes in (LandmarkTrack casts them).
`fan`, `fan-s3fd` (benchmark/perception/fan.py): the face-alignment package's 2DFAN4 on user weights, on a torch device.
A frame with no face gives NaN points and found=False; it never raises.

Instances come from `benchmark.perception.registry.get_landmark_backend(name, device, weights_dir)`,
cached per everything the backend depends on, so two settings never share a detector loaded for the other.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.perception.base import LandmarkBackend, LandmarkTrack, dlib_model_path, package_version
from benchmark.perception.head_pose import MESH_RIGID_IDS

ASSETS = Path(__file__).parent / "assets"


@contextmanager
def _quiet_native_stderr():
    """Silence C-level writes to stderr (file descriptor 2) for the duration; Python errors still raise."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(devnull)
        os.close(saved)


@lru_cache(maxsize=1)
def mediapipe_to_ibug68() -> list[list[int]]:
    return json.loads((ASSETS / "mediapipe_ibug68.json").read_text())["correspondence"]


class MediapipeLandmarks(LandmarkBackend):
    name = "mediapipe"
    keeps_rigid_mesh = True

    def __init__(self) -> None:
        # mediapipe 0.10.21 logs through absl (GLOG_minloglevel has no effect): its start-up chatter is
        # silenced below by redirecting file descriptor 2, never by changing the environment
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as exc:
            raise BenchError(
                "the mediapipe landmark backend (the default) needs mediapipe==0.10.21 (the last with "
                "bundled models), which plain `pip install talking-head-bench` does not install",
                hint="pip install 'talking-head-bench[mediapipe]' (with every dependency mediapipe "
                "declares, jax and jaxlib too, which it never imports), or without those: "
                "pip install --no-deps mediapipe==0.10.21 (its other dependencies come with "
                "talking-head-bench); or use another backend: --landmarks dlib68",
            ) from exc
        # static mode: every frame is detected on its own, so generated and reference are treated alike
        with _quiet_native_stderr():  # TFLite/absl print start-up chatter that is not ours to show
            self._mesh = face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=1, refine_landmarks=True, min_detection_confidence=0.5
            )
            from skimage import data

            self._mesh.process(np.ascontiguousarray(data.astronaut()[30:230, 120:320]))  # warm up on a real face
        groups = mediapipe_to_ibug68()
        self._index = np.array([g + [g[-1]] * (2 - len(g)) for g in groups])  # pad singletons to pairs
        self._rigid_index = np.array(MESH_RIGID_IDS)

    def version(self) -> str:
        return f"mediapipe-{package_version('mediapipe')}-facemesh478-ibug68map-v1"

    def mesh(self, frame: np.ndarray) -> np.ndarray | None:
        """478 mesh points (x, y in pixels, depth z on x's scale: mediapipe's z times the width), or None."""
        result = self._mesh.process(np.ascontiguousarray(frame))
        if not result.multi_face_landmarks:
            return None
        h, w = frame.shape[:2]
        lm = result.multi_face_landmarks[0].landmark
        # mediapipe's normalised coordinates put pixel i's centre at (i + 0.5) / size
        return np.array([[p.x * w - 0.5, p.y * h - 0.5, p.z * w] for p in lm], dtype=np.float64)

    def detect(self, frames: np.ndarray) -> LandmarkTrack:
        points = np.full((len(frames), 68, 2), np.nan, dtype=np.float64)
        rigid = np.full((len(frames), len(MESH_RIGID_IDS), 3), np.nan, dtype=np.float64)
        found = np.zeros(len(frames), dtype=bool)
        for t, frame in enumerate(frames):
            mesh = self.mesh(frame)
            if mesh is not None:
                points[t] = mesh[self._index, :2].mean(axis=1)
                rigid[t] = mesh[self._rigid_index]
                found[t] = True
        return LandmarkTrack(points, found, self.name, rigid_mesh=rigid)


class Dlib68Landmarks(LandmarkBackend):
    """dlib HOG face detector (largest face; it can give false positives) + 68-point shape predictor.

    The detector upsamples each frame once before looking (upsample 1), the common convention and
    the one the mini's astronaut landmarks were measured with (scripts/annotate_astronaut.py): it
    finds faces down to ~40 px instead of ~80 px. The policy is part of `version()`, so records say it.
    """

    name = "dlib68"
    upsample: ClassVar[tuple[int, ...]] = (1,)  # tried in order until a face is found

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise BenchError(
                f"the {self.name} backend needs dlib",
                hint="pip install dlib-bin==20.0.1.post1 face_recognition_models==0.3.0",
            ) from exc
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))

    def version(self) -> str:
        policy = "-else-".join(f"up{u}" for u in self.upsample)
        return f"dlib-{package_version('dlib-bin')}-hog-{policy}-sp68"

    def faces(self, frame: np.ndarray) -> list:
        """Face rectangles under this backend's upsampling policy (the first level that finds any)."""
        for level in self.upsample:
            found = self._detector(frame, level)
            if len(found):
                return list(found)
        return []

    def detect(self, frames: np.ndarray) -> LandmarkTrack:
        points = np.full((len(frames), 68, 2), np.nan, dtype=np.float64)
        found = np.zeros(len(frames), dtype=bool)
        for t, frame in enumerate(frames):
            frame = np.ascontiguousarray(frame)
            faces = self.faces(frame)
            if not faces:
                continue
            face = max(faces, key=lambda r: r.area())
            shape = self._predictor(frame, face)
            points[t] = [[p.x, p.y] for p in shape.parts()]
            found[t] = True
        return LandmarkTrack(points, found, self.name)


class Dlib68Up0Landmarks(Dlib68Landmarks):
    """The harness's earlier policy, kept by name: no upsampling, and upsample 1 only on frames where
    no face was found (faster at 256 px, but a face dlib finds at both levels gets a different box)."""

    name = "dlib68-up0"
    upsample = (0, 1)
