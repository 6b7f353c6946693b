"""Face identity embeddings for ACD.

`dlib-resnet` (offline default): dlib's 128-d face recognition ResNet
(dlib_face_recognition_resnet_model_v1.dat from face_recognition_models), on face chips
aligned from the iBUG-68 landmarks the scoring context already has (no second face detection).
`facenet-vggface2` and `arcface` (benchmark/perception/embedders.py) run on user-supplied weights.
All three are built by name through benchmark.perception.registry.get_embedder.
"""

from __future__ import annotations

import numpy as np

from benchmark.perception.base import Embedder, dlib_model_path, package_version


def dlib_shape(points: np.ndarray):
    """dlib's full_object_detection for (68, 2) points (box = their extent; a face chip uses the points only)."""
    import dlib

    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int)
    return dlib.full_object_detection(dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
                                      [dlib.point(int(round(x)), int(round(y))) for x, y in points])


class DlibResnetEmbedder(Embedder):
    name = "dlib-resnet"
    device = "cpu"  # dlib's own CPU build, whatever the settings say
    batch = 16  # chips per call: dlib runs a batch as one tensor (~10% faster than one call per chip, same bits)

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._net = dlib.face_recognition_model_v1(str(dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")))

    def version(self) -> str:
        return f"dlib-{package_version('dlib-bin')}-resnet128"

    def embed(self, frames: np.ndarray, points: np.ndarray, found: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) frames + (T, 68, 2) landmarks -> (T, 128); NaN rows where no face was found."""
        out = np.full((len(frames), 128), np.nan)
        faces = np.nonzero(found)[0]
        for start in range(0, len(faces), self.batch):
            part = faces[start:start + self.batch]
            # the chip compute_face_descriptor(frame, shape) cuts itself: 150 px, padding 0.25
            chips = [self._dlib.get_face_chip(np.ascontiguousarray(frames[t]), dlib_shape(points[t]), size=150,
                                              padding=0.25) for t in part]
            out[part] = np.asarray(self._net.compute_face_descriptor(chips))
        return out
