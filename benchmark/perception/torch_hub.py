"""A private torch.hub folder for packages that fetch their weights through torch.hub.

pytorch-fid and face-alignment look for their files in `<hub dir>/checkpoints/` and download
whatever is not there. While such a package builds its network, the hub folder is a throwaway one
whose `checkpoints/` links to the user's files, so it finds them and nothing is fetched; the
user's own torch.hub folder is neither read nor written.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch


@contextmanager
def private_torch_hub(files: dict[str, Path]) -> Iterator[Path]:
    """Within the block, torch.hub's folder holds `checkpoints/<name>` -> each given file."""
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as hub:
        checkpoints = Path(hub) / "checkpoints"
        checkpoints.mkdir()
        for name, path in files.items():
            (checkpoints / name).symlink_to(Path(path).resolve())
        torch.hub.set_dir(hub)
        try:
            yield checkpoints
        finally:
            torch.hub.set_dir(previous)
