"""The embedded mini protocol: builds itself from pip-installed assets, no download."""

from __future__ import annotations

from typing import Callable

from benchmark.core.errors import DatasetNotPreparedError
from protocols.base import SelfBuiltProtocol
from protocols.mini import build as _build


class MiniProtocol(SelfBuiltProtocol):
    name = "mini"
    version = _build.VERSION
    description = "12 synthetic GRID-grammar clips (4 voices), 25 fps, 256x256, 16 kHz; exact planted ground truth"
    identity_rule = (
        "one frame of the ground truth's own rendering at rest (lips together as in a pause, eyes open, "
        "head neutral), shared by every clip"
    )

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"the mini protocol is not built yet (expected {self.prepared_dir / 'manifest.json'})",
            hint="run `bench prepare mini` (about 30 s, no download)",
        )

    def planned_clips(self) -> int:
        return len(_build.clip_specs())

    def build_clips(self, workers: int | None, progress: Callable[[str], None] | None) -> None:
        """The 12 clips, about 30 s on 2 cores."""
        _build.build(self.prepared_dir, workers=workers, progress=progress)
