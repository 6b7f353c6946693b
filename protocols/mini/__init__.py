"""The embedded mini protocol: builds itself from pip-installed assets, no download."""

from __future__ import annotations

from pathlib import Path

from benchmark.errors import DatasetNotPreparedError, Interrupted
from protocols.base import ManifestProtocol
from protocols.mini import build as _build


class MiniProtocol(ManifestProtocol):
    name = "mini"
    builds_itself = True
    version = _build.VERSION
    description = "12 synthetic GRID-grammar clips (4 voices), 25 fps, 256x256, 16 kHz; exact planted ground truth"
    identity_rule = ("one frame of the ground truth's own rendering at rest (lips together as in a pause, eyes open, "
                     "head neutral), shared by every clip")

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"the mini protocol is not built yet (expected {self.prepared_dir / 'manifest.json'})",
            hint="run `bench prepare mini` (about 30 s, no download)",
        )

    @property
    def planned_clips(self) -> int:
        return len(_build.clip_specs())

    def is_prepared(self) -> bool:
        return (self.prepared_dir / "manifest.json").is_file()

    def prepare(self, force: bool = False, progress=None) -> Path:
        if self.is_prepared() and not force:
            return self.prepared_dir
        try:
            _build.build(self.prepared_dir, progress=progress)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: {self.id} was not built (it builds in a temporary folder; nothing half-built "
                              "is kept). Re-run the same command to build it.") from None
        return self.prepared_dir
