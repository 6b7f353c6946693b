"""The weights manifest: every file an adapter needs, its licence, and where a user obtains it.

Nothing is ever downloaded. A run checks all of an adapter's files before any work and, if some
are missing, stops with one message listing each file and the path it belongs at.
Files live under the weights root (`--weights`, $BENCH_WEIGHTS, or <data root>/weights), in a
folder per adapter: e.g. `<root>/wav2lip/wav2lip.pth`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file


@dataclass(frozen=True)
class WeightFile:
    role: str  # how the adapter refers to it ("generator", "psp", ...)
    filename: str  # default name under <root>/<adapter>/ (a --model-args option may rename it)
    description: str
    source: str  # where a user gets it
    licence: str
    sha256: str | None = None  # expected hash, where a canonical public file exists and its hash is known
    option: str | None = None  # the --model-args key that points at another file name

    def path(self, root: Path, adapter: str, override: str | None = None) -> Path:
        name = override or self.filename
        candidate = Path(name).expanduser()
        return candidate if candidate.is_absolute() else root / adapter / name


STYLEGAN2_LICENCE = "rosinality code MIT; FFHQ StyleGAN2 weights NVIDIA Source Code License-NC (non-commercial)"

MANIFEST: dict[str, tuple[WeightFile, ...]] = {
    "ours": (
        WeightFile(
            "psp",
            "psp_ffhq_encode.pt",
            "pSp FFHQ encoder + its StyleGAN2 1024 decoder + latent_avg",
            "eladrich/pixel2style2pixel README, 'Pretrained Models' (pSp FFHQ Inversion)",
            "MIT (pSp); decoder weights NVIDIA Source Code License-NC",
            option="psp",
        ),
        WeightFile(
            "ours",
            "ours_second.pt",
            "audio encoder, latent decoder and W+ PCA basis (format: docs/adapters.md)",
            "the authors of Alghamdi et al. 2022 (no public release); or train one with the documented format",
            "as granted by the authors",
            option="checkpoint",
        ),
    ),
    "wav2lip": (
        WeightFile(
            "wav2lip",
            "wav2lip.pth",
            "Wav2Lip generator checkpoint (wav2lip.pth or wav2lip_gan.pth)",
            "Rudrabha/Wav2Lip README, 'Getting the weights'",
            "research / non-commercial use only (README); no LICENSE file",
            option="checkpoint",
        ),
    ),
    "mocogan-hd": (
        WeightFile(
            "motion",
            "modelR.pth",
            "motion generator (modelR_epoch_N.pth, plain state_dict)",
            "snap-research/MoCoGAN-HD README, pretrained checkpoints (e.g. FFHQ-1024)",
            "conflicting: MIT LICENSE file vs 'no license granted' headers",
            option="motion",
        ),
        WeightFile(
            "pca_comp",
            "pca_comp.npy",
            "PCA components of W (512, 512), beside the checkpoint",
            "the same MoCoGAN-HD checkpoint folder",
            "as the checkpoint",
        ),
        WeightFile(
            "pca_stdev",
            "pca_stdev.npy",
            "PCA standard deviations (512,), beside the checkpoint",
            "the same MoCoGAN-HD checkpoint folder",
            "as the checkpoint",
        ),
        WeightFile(
            "generator",
            "g_ema.pt",
            "StyleGAN2 generator, rosinality format with `g_ema`",
            "the StyleGAN2 checkpoint MoCoGAN-HD's motion model was trained with",
            STYLEGAN2_LICENCE,
            option="generator",
        ),
    ),
    "man": (
        WeightFile(
            "man",
            "man.pt",
            "our MAN re-implementation (format: docs/adapters.md); NOT the authors' model",
            "train one with the documented format (the MAN authors released no code or weights)",
            "yours",
            option="checkpoint",
        ),
    ),
}
MANIFEST["man-keypoint"] = MANIFEST["man"]


def missing_weights_error(adapter: str, missing: list[tuple[WeightFile, Path]]) -> BenchError:
    lines = [
        f"model {adapter!r} needs {len(missing)} weight file(s) that are not on this machine (nothing is downloaded):"
    ]
    for spec, path in missing:
        sha = f"sha256 {spec.sha256}" if spec.sha256 else "sha256 not published"
        lines.append(
            f"  - {path}\n      {spec.description}; {sha}\n      get it from: {spec.source}\n      licence: {spec.licence}"
        )
    return BenchError(
        "\n".join(lines),
        hint=f"put the files at the paths above, or point --weights at a folder "
        f"holding {adapter}/…; `bench weights` shows what is present. "
        f"--model-args tiny=1 runs a tiny random configuration instead",
    )


def resolve_weights(adapter: str, root: Path, overrides: dict[str, str]) -> dict[str, Path]:
    """role -> path of every file `adapter` needs; one BenchError listing all missing files."""
    found, missing = {}, []
    for spec in MANIFEST.get(adapter, ()):
        path = spec.path(root, adapter, overrides.get(spec.option) if spec.option else None)
        if path.is_file():
            found[spec.role] = path
        else:
            missing.append((spec, path))
    if missing:
        raise missing_weights_error(adapter, missing)
    for spec in MANIFEST.get(adapter, ()):
        if spec.sha256 and sha256_file(found[spec.role]) != spec.sha256:
            raise BenchError(
                f"{found[spec.role]}: sha256 differs from the published {spec.filename} ({spec.sha256})",
                hint=f"obtain the file from {spec.source}",
            )
    return found


def weights_status(root: Path) -> list[dict]:
    """One row per manifest file: adapter, role, path, state, sha256 (if present), licence, source.

    state is "present" (the published sha256, or none is published), "wrong-hash" (a run would
    refuse it) or "missing"; `present` is True only for "present"."""
    rows = []
    for adapter, specs in MANIFEST.items():
        for spec in specs:
            path = spec.path(root, adapter)
            digest = sha256_file(path) if path.is_file() else None
            state = (
                "missing" if digest is None else "wrong-hash" if spec.sha256 and digest != spec.sha256 else "present"
            )
            rows.append(
                {
                    "adapter": adapter,
                    "role": spec.role,
                    "path": str(path),
                    "state": state,
                    "present": state == "present",
                    "sha256": digest,
                    "expected_sha256": spec.sha256,
                    "licence": spec.licence,
                    "source": spec.source,
                    "description": spec.description,
                }
            )
    return rows
