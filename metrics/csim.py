"""CSIM: does the generated person still look like the identity image?

Cosine *similarity* (not distance) between the ArcFace embedding of the identity image and that of
each generated frame, pooled over every frame of the protocol; the ground truth's own CSIM against
the same identity image is reported beside it (it is the ceiling a model can reach).

- `csim` (default): each face aligned to the 112² ArcFace template by the 5-point similarity
  transform from landmarks, as ArcFace was trained; frames without a face are left out (the clip
  fails below the coverage threshold).
- `csim-unaligned`: ViCo's convention, the whole frame resized to 112² with no alignment. It scores
  the same person far lower (insightface#1610: ~0.3 on unaligned faces), so the two never mix.
Needs the user's arcface weights (benchmark/perception/user_weights.py: arcface/backbone.pth).
"""

from __future__ import annotations

import numpy as np

from benchmark.core.errors import BenchError, ClipError
from benchmark.perception.registry import get_embedder
from metrics.aggregation import ByParam, Pooled
from metrics.base import Channels, ClipValue, require_coverage
from metrics.context import ClipContext
from metrics.landmark_metric import LANDMARK_DEFAULTS, LandmarkMetric

ALIGNED = "arcface-5-point-112"
UNALIGNED = "none: whole frame, cv2 bilinear to 112x112"


def cosine_similarities(embeddings: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """(T, D) rows vs one (D,) anchor -> (T,) cosine similarities, rows without a face (NaN) dropped."""
    sims = embeddings @ anchor / (np.linalg.norm(embeddings, axis=1) * np.linalg.norm(anchor))
    return sims[np.isfinite(sims)]


class CSIM(LandmarkMetric):
    name = "csim"
    direction = "higher"
    backend = "arcface iresnet100 (user weights: arcface/backbone.pth); alignment from landmarks: mediapipe (default)"
    description = "Identity similarity: cosine similarity of ArcFace embeddings, identity image vs each generated frame"
    default_params = {
        **LANDMARK_DEFAULTS,
        "network": "arcface",
        "alignment": ALIGNED,
        "reduction": "mean over all frames of the protocol (pooled)",
    }
    variants = {"csim-unaligned": {"alignment": UNALIGNED}}
    features = ByParam(
        "alignment", {ALIGNED: ("landmarks", "identity-embeddings"), UNALIGNED: ("frames", "identity-embeddings")}
    )
    aggregation = Pooled(
        ratios={
            "value": ("similarity_sum", "frames"),
            "reference_value": ("reference_similarity_sum", "reference_frames"),
        },
        primary="value",
    )
    channels = Channels(value=True, pooled=aggregation.counts())

    def embedder(self):
        return get_embedder(self.params["network"], self.settings.device, self.settings.weights_dir)

    @classmethod
    def check(cls, settings, params) -> None:
        from benchmark.perception.user_weights import ARCFACE_R100

        try:
            get_embedder(params["network"], settings.device, settings.weights_dir)
        except BenchError as exc:  # unlike ACD, CSIM has no file-free embedder to fall back on
            raise BenchError(
                exc.message,
                hint=f"get {ARCFACE_R100.filename} from {ARCFACE_R100.source} (licence: "
                f"{ARCFACE_R100.licence}) and put it there",
            ) from None

    @classmethod
    def backend_for(cls, settings, params) -> str:
        embedder = get_embedder(params["network"], settings.device, settings.weights_dir)
        if params["alignment"] == UNALIGNED:
            return f"{embedder.version()} on whole frames"
        return f"{embedder.version()} on {super().backend_for(settings, params)} 5-point chips"

    def _embeddings(self, ctx: ClipContext, which: str) -> np.ndarray:
        """Each frame's embedding (NaN where no face); the ground truth's are cached per protocol version,
        backend and convention."""
        if self.params["alignment"] == UNALIGNED:
            return ctx.feature("identity-embeddings", which, embedder=self.params["network"], alignment=UNALIGNED)
        track = ctx.feature("landmarks", which, backend=self.params["landmarks"])
        require_coverage(track.found, self.params["min_face_coverage"], f"{self.variant} ({which})")
        return ctx.feature(
            "identity-embeddings",
            which,
            embedder=self.params["network"],
            landmarks=self.params["landmarks"],
            alignment=self.params["alignment"],
        )

    def _identity(self, ctx: ClipContext) -> np.ndarray:
        identity = ctx.clip.load_identity()[None]
        if self.params["alignment"] == UNALIGNED:
            return self.embedder().embed_whole(identity)[0]
        track = ctx.landmark_backend(self.params["landmarks"]).detect(identity)
        if not track.found[0]:
            raise ClipError("metric", f"{self.variant}: no face found in the identity image {ctx.clip.identity_path}")
        return self.embedder().embed(identity, track.points, track.found)[0]

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        anchor = self._identity(ctx)
        generated = cosine_similarities(self._embeddings(ctx, "generated"), anchor)
        reference = cosine_similarities(self._embeddings(ctx, "reference"), anchor)
        pooled = {
            "similarity_sum": float(generated.sum()),
            "frames": int(generated.size),
            "reference_similarity_sum": float(reference.sum()),
            "reference_frames": int(reference.size),
        }
        return ClipValue(float(generated.mean()) if generated.size else None, pooled=pooled)
