"""ACD (MoCoGAN's average content distance): identity consistency of a video.

Default `acd` = ACD-C: mean cosine distance between identity embeddings of consecutive frames.
Variants: `acd-e` (Euclidean, MAN's ACD-E), `acd-identity` / `acd-e-identity` (distance of each
frame to the identity image instead of to the previous frame). Pooled over all frame pairs of
the protocol, with the ground truth's own ACD on the same clips beside it.
"""

from __future__ import annotations

import numpy as np

from benchmark.perception.registry import get_embedder
from metrics.aggregation import Pooled
from metrics.base import Channels, ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric


def embedding_distance(a: np.ndarray, b: np.ndarray, kind: str) -> np.ndarray:
    if kind == "cosine":
        return 1.0 - np.sum(a * b, axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.linalg.norm(a - b, axis=-1)


def content_distances(embeddings: np.ndarray, kind: str, anchor: np.ndarray | None = None) -> np.ndarray:
    """Distances between consecutive frames (or to `anchor`), skipping frames without a face."""
    if anchor is None:
        a, b = embeddings[:-1], embeddings[1:]
    else:
        a, b = embeddings, anchor[None]
    d = embedding_distance(a, b, kind)
    return d[np.isfinite(d)]


class ACD(LandmarkMetric):
    name = "acd"
    direction = "lower"
    backend = "embedder: dlib-resnet (default) | facenet-vggface2, arcface (user weights); chips from landmarks"
    description = "Average content distance: cosine distance of identity embeddings between consecutive frames (ACD-C)"
    default_params = {**LANDMARK_DEFAULTS, "embedder": "dlib-resnet", "distance": "cosine", "reference": "consecutive"}
    variants = {
        "acd-e": {"distance": "euclidean"},
        "acd-identity": {"reference": "identity"},
        "acd-e-identity": {"distance": "euclidean", "reference": "identity"},
    }
    features = ("landmarks", "identity-embeddings")
    aggregation = Pooled(
        ratios={"value": ("distance_sum", "pairs"), "reference_value": ("reference_distance_sum", "reference_pairs")},
        primary="value",
    )
    channels = Channels(value=True, pooled=aggregation.counts())

    def embedder(self):
        """This metric's identity embedder on its settings' device and weights folder."""
        return get_embedder(self.params["embedder"], self.settings.device, self.settings.weights_dir)

    @classmethod
    def backend_for(cls, settings, params) -> str:
        embedder = get_embedder(params["embedder"], settings.device, settings.weights_dir)
        return f"{embedder.version()} on {super().backend_for(settings, params)} chips"

    def _embeddings(self, ctx: ClipContext, which: str) -> np.ndarray:
        """Each frame's embedding (NaN where no face); the ground truth's are computed once per protocol version."""
        track = ctx.feature("landmarks", which, backend=self.params["landmarks"])
        require_coverage(track.found, self.params["min_face_coverage"], f"{self.variant} ({which})")
        return ctx.feature(
            "identity-embeddings", which, embedder=self.params["embedder"], landmarks=self.params["landmarks"]
        )

    def _anchor(self, ctx: ClipContext) -> np.ndarray | None:
        if self.params["reference"] != "identity":
            return None
        identity = ctx.clip.load_identity()[None]
        track = ctx.landmark_backend(self.params["landmarks"]).detect(identity)
        if not track.found[0]:
            from benchmark.core.errors import ClipError

            raise ClipError("metric", f"{self.variant}: no face found in the identity image {ctx.clip.identity_path}")
        return self.embedder().embed(identity, track.points, track.found)[0]

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        anchor, kind = self._anchor(ctx), self.params["distance"]
        generated = content_distances(self._embeddings(ctx, "generated"), kind, anchor)
        reference = content_distances(self._embeddings(ctx, "reference"), kind, anchor)
        pooled = {
            "distance_sum": float(generated.sum()),
            "pairs": int(generated.size),
            "reference_distance_sum": float(reference.sum()),
            "reference_pairs": int(reference.size),
        }
        value = float(generated.mean()) if generated.size else None
        return ClipValue(value, pooled=pooled)
