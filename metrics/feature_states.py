"""Mergeable states of the metrics pooled over features of the whole set: FID and FVD (Frechet
distance of float64 feature sums) and KID (kernel MMD over kept features).

Their aggregations are declared in metrics/aggregation.py; the engine builds these states from
the declaration (and the features stored beside the run), never from a metric object.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from benchmark.perception.inception import FEATURE_DIM


@dataclass
class GaussianSums:
    """Mergeable sufficient statistics of a feature cloud."""

    n: int = 0
    total: np.ndarray = field(default_factory=lambda: np.zeros(FEATURE_DIM))
    outer: np.ndarray = field(default_factory=lambda: np.zeros((FEATURE_DIM, FEATURE_DIM)))

    @classmethod
    def empty(cls, dim: int) -> "GaussianSums":
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    def add(self, features: np.ndarray) -> None:
        x = np.asarray(features, dtype=np.float64)
        self.n += len(x)
        self.total += x.sum(axis=0)
        self.outer += x.T @ x

    def merge(self, other: "GaussianSums") -> "GaussianSums":
        return GaussianSums(self.n + other.n, self.total + other.total, self.outer + other.outer)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        mu = self.total / self.n
        cov = (self.outer - self.n * np.outer(mu, mu)) / (self.n - 1)
        return mu, cov


def frechet_distance(mu1, cov1, mu2, cov2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)), with tr((S1 S2)^(1/2)) = sum sqrt eig(sqrt(S1) S2 sqrt(S1))."""
    vals, vecs = np.linalg.eigh((cov1 + cov1.T) / 2)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ cov2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2 * trace_sqrt)


class FrechetState:
    """Float64 feature sums of both sides. Merging adds them: commutative, and associative up to float
    rounding, so the engine reduces rows in protocol order (one fixed summation order) for exact records."""

    aggregation = "Frechet distance of pooled float64 feature sums"
    consumes_artifacts = True  # built from the per-clip Inception features stored beside the run

    def __init__(
        self,
        min_frames: int,
        dim: int = FEATURE_DIM,
        what: str = "FID",
        samples: str = "frames",
        small_set_hint: str = "; use KID for small sets",
    ):
        """`samples` names what a feature row is (frames for FID, clips of frames for FVD)."""
        self.min_frames, self.dim, self.what, self.samples, self.small_set_hint = (
            min_frames,
            dim,
            what,
            samples,
            small_set_hint,
        )
        self.generated, self.reference = GaussianSums.empty(dim), GaussianSums.empty(dim)

    def add(self, value, pooled=None, artifacts=None) -> None:
        if artifacts is not None:
            self.generated.add(artifacts["generated"])
            self.reference.add(artifacts["reference"])

    def merge(self, other: "FrechetState") -> "FrechetState":
        out = FrechetState(self.min_frames, self.dim, self.what, self.samples, self.small_set_hint)
        out.generated, out.reference = self.generated.merge(other.generated), self.reference.merge(other.reference)
        return out

    def compute(self) -> dict:
        n_gen, n_ref, samples = self.generated.n, self.reference.n, self.samples
        result = {"n": None, f"{samples}_generated": n_gen, f"{samples}_reference": n_ref, "ci95": None}
        if min(n_gen, n_ref) < self.min_frames:
            return {
                **result,
                "value": None,
                "error": f"{self.what} needs at least {self.min_frames} {samples} per side, got {n_gen} generated and "
                f"{n_ref} ground-truth{self.small_set_hint}",
            }
        value = frechet_distance(*self.generated.mean_cov(), *self.reference.mean_cov())
        if -1e-3 < value < 0:  # a squared distance: a small negative is the sqrtm's floating-point noise
            value = 0.0  # (identical rank-deficient sets give about -1e-5)
        if min(n_gen, n_ref) < self.dim:
            result["note"] = (
                f"fewer than {self.dim} {samples}: covariances are rank-deficient and {self.what} is "
                f"biased upward; compare {self.what} only at equal {samples} counts"
            )
        return {**result, "value": value}


def polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3."""
    d = x.shape[1]
    kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()
    )


class KernelState:
    """Keeps features (KID has no sufficient statistics); at most `cap` frames per side, seeded.

    Clips are taken in a canonical order (sorted by the content of their features) before the
    seeded subsampling, so the value does not depend on arrival or merge order.
    """

    aggregation = "unbiased polynomial-kernel MMD over seeded subsets of pooled features"
    consumes_artifacts = True

    def __init__(self, subsets: int, subset_size: int, cap: int, seed: int = 0):
        self.subsets, self.subset_size, self.cap, self.seed = subsets, subset_size, cap, seed
        self.generated: list[np.ndarray] = []
        self.reference: list[np.ndarray] = []

    def add(self, value, pooled=None, artifacts=None) -> None:
        if artifacts is not None:
            self.generated.append(np.asarray(artifacts["generated"], dtype=np.float64))
            self.reference.append(np.asarray(artifacts["reference"], dtype=np.float64))

    def merge(self, other: "KernelState") -> "KernelState":
        out = KernelState(self.subsets, self.subset_size, self.cap, self.seed)
        out.generated, out.reference = self.generated + other.generated, self.reference + other.reference
        return out

    def compute(self) -> dict:
        if not self.generated:
            return {"value": None, "n": None, "ci95": None}
        rng = np.random.default_rng(self.seed)
        order = sorted(
            range(len(self.generated)),
            key=lambda i: (
                hashlib.sha256(self.generated[i].tobytes()).digest(),
                hashlib.sha256(self.reference[i].tobytes()).digest(),
            ),
        )
        gen = np.concatenate([self.generated[i] for i in order])
        ref = np.concatenate([self.reference[i] for i in order])
        gen = gen[rng.permutation(len(gen))[: self.cap]]
        ref = ref[rng.permutation(len(ref))[: self.cap]]
        size = min(self.subset_size, len(gen), len(ref))
        if size < 2:
            return {"value": None, "n": None, "ci95": None, "error": "KID needs at least 2 frames per side"}
        values = np.array(
            [
                polynomial_mmd(
                    gen[rng.choice(len(gen), size, replace=False)], ref[rng.choice(len(ref), size, replace=False)]
                )
                for _ in range(self.subsets)
            ]
        )
        return {
            "value": float(values.mean()),
            "std": float(values.std()),
            "n": None,
            "ci95": None,
            "frames_generated": int(len(gen)),
            "frames_reference": int(len(ref)),
            "subset_size": int(size),
        }
