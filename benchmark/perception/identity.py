"""Face identity embeddings for ACD.

`dlib-resnet` (offline default): dlib's 128-d face recognition ResNet
(dlib_face_recognition_resnet_model_v1.dat from face_recognition_models), on face chips
aligned by dlib from the iBUG-68 landmarks the scoring context already has (no second face
detection). The network runs in torch on the settings' device (benchmark/perception/dlib_resnet.py
reads dlib's file): on the CPU, descriptors within 2e-6 of dlib's own compute_face_descriptor
(tested), ~10x faster.
`facenet-vggface2` and `arcface` (benchmark/perception/embedders.py) run on user-supplied weights.
All three are built by name through benchmark.perception.registry.get_embedder.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.core.hashing import sha256_file
from benchmark.perception.base import Embedder, dlib_model_path, package_version


def dlib_shape(points: np.ndarray):
    """dlib's full_object_detection for (68, 2) points (box = their extent; a face chip uses the points only)."""
    import dlib

    x0, y0 = np.floor(points.min(0)).astype(int)
    x1, y1 = np.ceil(points.max(0)).astype(int)
    return dlib.full_object_detection(
        dlib.rectangle(int(x0), int(y0), int(x1), int(y1)),
        [dlib.point(int(round(x)), int(round(y))) for x, y in points],
    )


class DlibResnetEmbedder(Embedder):
    name = "dlib-resnet"
    follows_device = True  # chips are cut by dlib on the CPU; the network runs on the settings' device
    batch = 32  # chips per forward pass

    def __init__(self, device: str = "cpu") -> None:
        import dlib

        from benchmark.perception.dlib_resnet import load_dlib_resnet

        path = dlib_model_path("dlib_face_recognition_resnet_model_v1.dat")
        self._dlib = dlib
        self.device = str(device)
        self._net = load_dlib_resnet(path).to(self.device)
        self.weights_sha256 = sha256_file(path)  # recorded with the features and the run

    def version(self) -> str:
        return (
            f"dlib-resnet128 (face_recognition_models {package_version('face_recognition_models')}) "
            f"in torch {torch.__version__} float32, chips by dlib-{package_version('dlib-bin')}"
        )

    def embed(self, frames: np.ndarray, points: np.ndarray, found: np.ndarray) -> np.ndarray:
        """(T, H, W, 3) frames + (T, 68, 2) landmarks -> (T, 128); NaN rows where no face was found."""
        out = np.full((len(frames), 128), np.nan)
        faces = np.nonzero(found)[0]
        for start in range(0, len(faces), self.batch):
            part = faces[start : start + self.batch]
            # the chip dlib's compute_face_descriptor(frame, shape) cuts: 150 px, padding 0.25
            chips = [
                self._dlib.get_face_chip(np.ascontiguousarray(frames[t]), dlib_shape(points[t]), size=150, padding=0.25)
                for t in part
            ]
            out[part] = self._net(torch.from_numpy(np.stack(chips)).to(self.device)).double().cpu().numpy()
        return out
