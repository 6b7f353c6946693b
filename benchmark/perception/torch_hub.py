"""A private torch.hub folder for packages that look for their weights through torch.hub.

pytorch-fid and face-alignment look for their files in `<hub dir>/checkpoints/` and would download
whatever is not there. While such a package builds its network, the hub folder is a throwaway one
whose `checkpoints/` links to the user's files, so it finds them; and torch.hub's downloader is
replaced by one that raises, so a file the package wants and the user has not placed is a message
naming it, never a download. The user's own torch.hub folder is neither read nor written.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Iterator
from unittest import mock

import torch

from benchmark.core.errors import BenchError


def _refuse_download(url: str, dst: str, *args, **kwargs) -> None:
    name = Path(str(url).split("?")[0]).name
    raise BenchError(
        f"the package asked to download {url}; nothing is downloaded here",
        hint=f"this harness places only the files it knows; {name} is not one of them (see `bench weights`)",
    )


@contextmanager
def private_torch_hub(files: dict[str, Path], packages: tuple[ModuleType, ...] = ()) -> Iterator[Path]:
    """Within the block, torch.hub's folder holds `checkpoints/<name>` -> each given file, and
    torch.hub's `download_url_to_file` (also where `packages` imported it by name) refuses."""
    previous = torch.hub.get_dir()
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as hub, ExitStack() as patches:
        checkpoints = Path(hub) / "checkpoints"
        checkpoints.mkdir()
        for name, path in files.items():
            (checkpoints / name).symlink_to(Path(path).resolve())
        for module in (torch.hub, *packages):
            if hasattr(module, "download_url_to_file"):
                patches.enter_context(mock.patch.object(module, "download_url_to_file", _refuse_download))
        torch.hub.set_dir(hub)
        try:
            yield checkpoints
        finally:
            torch.hub.set_dir(previous)
