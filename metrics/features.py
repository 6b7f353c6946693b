"""The built-in feature providers several metrics share (`ctx.feature(name, which, **params)`).

Each names what its ground-truth features depend on (`reference_cache`); the folders and keys are
the ones used before providers existed, so feature caches written then are still read. SyncNet and
I3D features live beside the metrics whose conventions they follow (metrics/lse.py, metrics/fvd.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmark.perception.base import LandmarkTrack
from benchmark.perception.registry import get_embedder, get_network
from metrics.context import ClipContext, FeatureProvider


class Frames(FeatureProvider):
    """(T, H, W, 3) uint8 RGB frames of the generated video or of the ground truth."""

    name = "frames"

    def compute(self, ctx: ClipContext, which: str) -> np.ndarray:
        return ctx.generated.frames if which == "generated" else ctx.reference


class Audio(FeatureProvider):
    """The clip's driving audio: float samples at `ctx.clip.sample_rate`."""

    name = "audio"
    per_side = False

    def compute(self, ctx: ClipContext, which: None) -> np.ndarray:
        return ctx.clip.load_audio()


class Phones(FeatureProvider):
    """The clip's annotations: phone timings (phones, phone_start, phone_end) and, for synthetic
    clips, the events planted in them (blink_onsets, blink_profile); {} when it has none."""

    name = "phones"
    per_side = False

    def compute(self, ctx: ClipContext, which: None) -> dict[str, np.ndarray]:
        return ctx.clip.load_annotations()


class Landmarks(FeatureProvider):
    """iBUG-68 LandmarkTrack from the landmark backend `backend` (its cache key names device and weights)."""

    name = "landmarks"

    def compute(self, ctx: ClipContext, which: str, backend: str) -> LandmarkTrack:
        return ctx.landmark_backend(backend).detect(ctx.feature("frames", which))

    def reference_cache(self, ctx: ClipContext, backend: str) -> tuple[str, dict]:
        return "landmarks", ctx.landmark_backend(backend).cache_key()

    def to_arrays(self, track: LandmarkTrack) -> dict[str, np.ndarray]:
        arrays = {"points": track.points, "found": track.found}
        if track.rigid_mesh is not None:
            arrays["rigid_mesh"] = track.rigid_mesh
        return arrays

    def from_arrays(self, arrays: dict[str, np.ndarray], backend: str) -> LandmarkTrack:
        rigid_mesh = arrays["rigid_mesh"] if "rigid_mesh" in arrays else None
        return LandmarkTrack(arrays["points"], arrays["found"], backend, rigid_mesh=rigid_mesh)


class IdentityEmbeddings(FeatureProvider):
    """(T, D) identity embeddings of each frame by `embedder`; NaN rows where no face was found.

    With `landmarks`, each face is cut by the embedder's own landmark-aligned chip; without, the whole
    frame is resized to the network's input (CSIM's unaligned convention). `alignment` names CSIM's
    convention: its features are cached under "csim", ACD's (no `alignment`) under "embeddings"."""

    name = "identity-embeddings"

    def compute(
        self, ctx: ClipContext, which: str, embedder: str, landmarks: str | None = None, alignment: str | None = None
    ) -> np.ndarray:
        network, frames = self._embedder(ctx, embedder), ctx.feature("frames", which)
        if landmarks is None:
            return network.embed_whole(frames)
        track = ctx.feature("landmarks", which, backend=landmarks)
        return network.embed(frames, track.points, track.found)

    def reference_cache(
        self, ctx: ClipContext, embedder: str, landmarks: str | None = None, alignment: str | None = None
    ) -> tuple[str, dict]:
        key: dict[str, Any] = dict(self._embedder(ctx, embedder).cache_key())
        if alignment is not None:
            key["alignment"] = alignment
        if landmarks is not None or alignment is None:
            key["landmarks"] = ctx.landmark_backend(landmarks).points_key() if landmarks is not None else None
        return ("embeddings" if alignment is None else "csim"), key

    def to_arrays(self, value: np.ndarray) -> dict[str, np.ndarray]:
        return {"embeddings": value}

    def from_arrays(self, arrays: dict[str, np.ndarray], **params: Any) -> np.ndarray:
        return arrays["embeddings"]

    @staticmethod
    def _embedder(ctx: ClipContext, name: str):
        return get_embedder(name, ctx.settings.device, ctx.settings.weights_dir)


class InceptionFeatures(FeatureProvider):
    """(T, 2048) float32 pool3 features of the FID Inception (the port, BatchNorm folded)."""

    name = "inception"
    network_name = "inception"

    def network(self, ctx: ClipContext):
        return get_network(self.network_name, ctx.settings.device, ctx.settings.weights_dir)

    def compute(self, ctx: ClipContext, which: str) -> np.ndarray:
        return self.network(ctx).features(ctx.feature("frames", which))

    def reference_cache(self, ctx: ClipContext) -> tuple[str, dict]:
        return "inception", self.network(ctx).cache_key()


class PytorchFidInceptionFeatures(InceptionFeatures):
    """(T, 2048) float32 pool3 features of pytorch-fid's own InceptionV3 module."""

    name = "pytorch-fid-inception"
    network_name = "pytorch-fid-inception"
