"""What the neural adapters share: weights from the manifest or a tiny seeded random configuration,
strict loading, device placement, and parameter counts for `bench profile`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from adapters.base import Adapter, refuse_unknown_args
from adapters.weights import MANIFEST, resolve_weights
from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file

TINY_SEED = 0


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class NeuralAdapter(Adapter):
    """Subclasses implement `build(paths)` (paths is None for the tiny configuration) and `generate`."""

    options: dict[str, str] = {}  # --model-args keys beyond tiny and the manifest's file options

    def __init__(self, tiny: str | bool = False, **config: Any):
        known = {"tiny", *self.options, *(s.option for s in MANIFEST.get(self.name, ()) if s.option)}
        refuse_unknown_args(self.name, config, known)
        super().__init__(**({"tiny": "1"} if truthy(tiny) else {}), **config)
        self.tiny = truthy(tiny)
        self.paths: dict[str, Path] | None = None
        self._hashes: dict[str, str] | None = None
        self.nets: dict[str, nn.Module] = {}

    # ---- weights ------------------------------------------------------------------------
    def bind_weights(self, root: Path) -> None:
        super().bind_weights(root)
        if not self.tiny:
            self.paths = resolve_weights(self.name, root, {k: str(v) for k, v in self.config.items()})

    def weights(self) -> dict[str, str]:
        if self.tiny:
            return {"tiny-random-config": f"torch.manual_seed({TINY_SEED})"}
        if self.paths is None:
            return {}
        if self._hashes is None:
            self._hashes = {p.name: sha256_file(p) for p in self.paths.values()}
        return self._hashes

    # ---- lifecycle ----------------------------------------------------------------------
    def setup(self, device: str) -> None:
        super().setup(device)
        if self.paths is None and not self.tiny:
            raise BenchError(f"{self.name}: setup() before bind_weights()")
        if self.tiny:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(TINY_SEED)
                self.nets = self.build(None)
        else:
            self.nets = self.build(self.paths)
        for net in self.nets.values():
            net.to(device).eval().requires_grad_(False)

    def build(self, paths: dict[str, Path] | None) -> dict[str, nn.Module]:
        raise NotImplementedError

    def code_version(self) -> str:
        """The adapter's module plus every shared network / front-end file it runs."""
        from benchmark.core.version import __version__
        from benchmark.core.hashing import sha256_bytes

        here = Path(__file__).parent
        files = [
            Path(inspect.getfile(type(self))),
            here / "neural.py",
            here / "audio_features.py",
            here / "official_formats.py",
            *sorted((here / "nets").glob("*.py")),
        ]
        return f"{__version__}+{sha256_bytes(b''.join(f.read_bytes() for f in files))[:12]}"

    def parameter_counts(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in net.parameters()) for name, net in self.nets.items()}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["native_size"] = self.native_size()
        if self.nets:
            out["parameters"] = self.parameter_counts()
        return out


def to_uint8_rgb(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8, rounded as torchvision's save_image does."""
    x = ((images.clamp(-1, 1) + 1) * 127.5 + 0.5).clamp(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def image_to_tensor(image: np.ndarray, size: int, device: str) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, size, size) in [-1, 1], resized with Lanczos (PIL) when needed."""
    if image.shape[0] != size or image.shape[1] != size:
        from PIL import Image

        image = np.asarray(Image.fromarray(image).resize((size, size), Image.LANCZOS))
    x = torch.from_numpy(np.array(image, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1
    return x[None].to(device)


def generate_in_batches(render, latents: torch.Tensor, batch: int = 8) -> np.ndarray:
    """Run `render` over latents in chunks (bounded memory); returns uint8 frames."""
    with torch.no_grad():
        return np.concatenate([to_uint8_rgb(render(latents[i : i + batch])) for i in range(0, len(latents), batch)])
