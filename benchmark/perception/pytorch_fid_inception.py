"""pytorch-fid's own InceptionV3, where the `pytorch_fid` package imports (it needs a torchvision that
matches torch: a normal CUDA or CPU install, not this project's CI machine).

It reads the official `pt_inception-2015-12-05-6726825d.pth` from the weights folder: pytorch-fid
fetches that file through torch.hub, so a private hub folder links to the user's copy while the
network is built (benchmark/perception/torch_hub.py), and nothing is downloaded. The default `fid`
uses the pure-torch port (benchmark/perception/inception.py), whose parameter names are
pytorch-fid's; `fid-pytorch-fid` uses this, so the two implementations can be compared
(tests/test_fid.py, skipped without it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file
from benchmark.perception.base import Network
from benchmark.perception.inception import OFFICIAL_FILE, OFFICIAL_SHA256_PREFIX
from benchmark.perception.torch_hub import private_torch_hub


def _import_inception_v3():
    try:
        from pytorch_fid.inception import InceptionV3
    except Exception as exc:  # missing package, or torchvision that does not load on this torch
        raise BenchError(
            f"fid-pytorch-fid needs the pytorch-fid package, which does not import here "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            hint="pip install pytorch-fid with a torchvision matching your torch; "
            "the default `fid` (the same network, ported) needs neither",
        ) from None
    return InceptionV3


class PytorchFidInception(Network):
    """pytorch-fid's InceptionV3 returning pool3, built from the user's official weight file on the
    settings' device: `get_network("pytorch-fid-inception", device, weights_dir)`."""

    name = "pytorch-fid-inception"

    def __init__(self, weights_dir: Path, device: str = "cpu"):
        inception_v3 = _import_inception_v3()
        official = Path(weights_dir) / OFFICIAL_FILE
        if not official.is_file():
            raise BenchError(
                f"fid-pytorch-fid needs {OFFICIAL_FILE} (sha256 starts {OFFICIAL_SHA256_PREFIX}) at {official}; "
                "nothing is downloaded here",
                hint="get it from pytorch-fid's GitHub release (mseitzer/pytorch-fid)",
            )
        digest = sha256_file(official)
        if not digest.startswith(OFFICIAL_SHA256_PREFIX):
            raise BenchError(f"{official}: sha256 {digest[:16]}… is not the published {OFFICIAL_FILE}")
        with private_torch_hub({OFFICIAL_FILE: official}):
            model = inception_v3([inception_v3.BLOCK_INDEX_BY_DIM[2048]])
        self.device, self.weights_sha256 = str(device), digest
        self.model = model.eval().to(self.device)

    def version(self) -> str:
        return f"pytorch-fid InceptionV3, official {OFFICIAL_FILE} sha256 {self.weights_sha256}"

    def cache_key(self) -> dict[str, str | None]:
        # the key reference features were cached under before networks were registered backends
        return {"backend": self.version(), "device": self.device}

    @torch.no_grad()
    def features(self, frames: np.ndarray, batch: int = 32) -> np.ndarray:
        """(T, H, W, 3) uint8 -> (T, 2048) float32 pool3 features, inputs in [0, 1] as pytorch-fid takes them."""
        out = []
        for start in range(0, len(frames), batch):
            x = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch])).to(self.device)
            out.append(self.model(x.permute(0, 3, 1, 2).float() / 255.0)[0].flatten(1).float().cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, 2048), np.float32)
