"""`fan` landmarks through the face-alignment package (2DFAN4, Bulat & Tzimiropoulos 2017) on user weights.

The package itself builds the network, loads `2DFAN4-11f355bf06.pth.tar` (strictly, weights_only),
crops, runs and decodes the heatmaps (`FaceAlignment.get_landmarks_from_image`), so the points are
the ones a paper's script using face-alignment gets. The package looks for that file in torch.hub's
folder: a private one links to the user's copy and refuses any download
(benchmark/perception/torch_hub.py). `flip_input` is off (the package's default is on: it averages with a mirrored pass);
`torch.compile` is off (a one-off compile costs more than a clip).

Face boxes, recorded in the backend id:
- `fan`: from the mediapipe face mesh (jaw extent; top 0.2 brow-to-chin distances above the brows),
  no detector file needed;
- `fan-s3fd`: the package's own S3FD detector on the user's `s3fd-619a316812.pth`, the largest box
  when it finds several — face-alignment's default pipeline.
Points are shifted by −1 to this harness's convention (pixel centres at integers, 0-based), since
face-alignment's crop works in 1-based pixel coordinates.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.perception.base import LandmarkBackend, LandmarkTrack, package_version
from benchmark.perception.face_geometry import face_box_from_landmarks
from benchmark.perception.registry import get_landmark_backend
from benchmark.perception.torch_hub import private_torch_hub
from benchmark.perception.user_weights import FAN_2D, S3FD

INSTALL_HINT = (
    "pip install --no-deps face-alignment==1.5.0 'numba>=0.58' (scripts/setup.sh does): --no-deps "
    "keeps its opencv-python from replacing mediapipe's opencv-contrib-python"
)


def import_face_alignment():
    try:
        import face_alignment
        import face_alignment.utils  # noqa: F401  (its downloader is refused by name)
    except Exception as exc:  # the package, or numba / scikit-image that it imports
        raise BenchError(
            f"the fan landmark backends need the face-alignment package, which does not import here "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            hint=INSTALL_HINT,
        ) from None
    return face_alignment


class FanLandmarks(LandmarkBackend):
    """face-alignment's 2DFAN4 on `device`, one `get_landmarks_from_image` call per frame with a face."""

    name = "fan"
    reads_weights = True
    detector = "mediapipe"  # the package's detector module: `folder` takes the boxes it is given

    def __init__(self, weights_dir: Path, device: str = "cpu") -> None:
        files = (FAN_2D, S3FD) if self.detector == "s3fd" else (FAN_2D,)
        missing = [spec for spec in files if not spec.path(weights_dir).is_file()]
        if len(missing) > 1:  # both at once: one message, not one per attempt
            raise BenchError(
                f"{self.name} needs "
                + " and ".join(
                    f"{spec.filename} (sha256 starts {spec.sha256_prefix}) at {spec.path(weights_dir)}"
                    for spec in missing
                )
                + "; nothing is downloaded here",
                hint=f"get them from {FAN_2D.source}",
            )
        path, self.weights_sha256 = FAN_2D.resolve(weights_dir)
        detector_path, self.detector_sha256 = S3FD.resolve(weights_dir) if self.detector == "s3fd" else (None, None)
        face_alignment = import_face_alignment()
        self.device = str(device)
        with private_torch_hub({FAN_2D.filename: path}, packages=(face_alignment.utils,)):
            try:
                self.aligner = face_alignment.FaceAlignment(
                    face_alignment.LandmarksType.TWO_D,
                    device=self.device,
                    flip_input=False,
                    compile=False,
                    face_detector="sfd" if detector_path else "folder",
                    face_detector_kwargs={"path_to_detector": str(detector_path)} if detector_path else {},
                )
            except (RuntimeError, KeyError) as exc:  # load_state_dict's strict key check, or not a state dict
                what = detector_path if detector_path and "s3fd" in str(exc).lower() else path
                raise BenchError(
                    f"{what}: face-alignment cannot load it ({str(exc).splitlines()[0]})",
                    hint=f"use the original file from {FAN_2D.source}",
                ) from None
        self.boxes = get_landmark_backend("mediapipe") if self.detector == "mediapipe" else None

    def version(self) -> str:
        boxes = (
            f"boxes: {self.boxes.version()}"
            if self.boxes is not None
            else f"boxes: face-alignment S3FD {self.detector_sha256[:12]}, largest"
        )
        return (
            f"fan-2DFAN4-{self.weights_sha256[:12]} (face-alignment {package_version('face-alignment')}, "
            f"flip_input off; {boxes})"
        )

    def face_boxes(self, frames: np.ndarray) -> list[np.ndarray | None]:
        """One (x1, y1, x2, y2) box per frame, None where there is no face."""
        if self.boxes is not None:
            track = self.boxes.detect(frames)
            return [
                np.array(face_box_from_landmarks(track.points[t])) if track.found[t] else None
                for t in range(len(frames))
            ]
        out = []
        for frame in frames:
            found = self.aligner.face_detector.detect_from_image(frame.copy())
            areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in found]
            out.append(np.asarray(found[int(np.argmax(areas))][:4], dtype=np.float64) if len(found) else None)
        return out

    def detect(self, frames: np.ndarray) -> LandmarkTrack:
        points = np.full((len(frames), 68, 2), np.nan, dtype=np.float64)
        found = np.zeros(len(frames), dtype=bool)
        for t, box in enumerate(self.face_boxes(frames)):
            if box is None:
                continue
            landmarks = self.aligner.get_landmarks_from_image(frames[t], detected_faces=[box])
            points[t], found[t] = np.asarray(landmarks[0], dtype=np.float64) - 1.0, True
        return LandmarkTrack(points, found, self.version())


class FanS3fdLandmarks(FanLandmarks):
    """The same network with face-alignment's own S3FD detector (the user's s3fd-619a316812.pth)."""

    name = "fan-s3fd"
    detector = "s3fd"
