"""The embedded mini protocol: builds itself from pip-installed assets, no download."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from benchmark.core.errors import DatasetNotPreparedError
from protocols.base import ManifestProtocol, PrepareReport
from protocols.prepare import PrepareInterrupted
from protocols.mini import build as _build


class MiniProtocol(ManifestProtocol):
    name = "mini"
    builds_itself = True
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

    def prepare(
        self,
        source: Path | None = None,
        *,
        sizes: tuple[int, ...] = (256,),
        workers: int | None = None,
        force: bool = False,
        progress: Callable[[str], None] | None = None,
        on_total: Callable[[int], None] | None = None,
        split: Path | None = None,
        alignments: Path | None = None,
    ) -> PrepareReport:
        """Build the 12 clips (about 30 s) unless they are there and `force` is not given; it needs
        no source and writes one size, so `source`, `sizes`, `split` and `alignments` are not used."""
        planned = len(_build.clip_specs())
        if self.is_prepared() and not force:
            return PrepareReport(self.prepared_dir, planned, reused=planned)
        if on_total:
            on_total(planned)
        kept = self.is_prepared()
        try:
            _build.build(self.prepared_dir, workers=workers, progress=progress)
        except KeyboardInterrupt:
            raise PrepareInterrupted(
                0,
                planned,
                self.prepared_dir,
                message=(
                    f"interrupted: {self.id} was not built (it builds in a temporary folder; nothing half-built is "
                    f"kept{' and the previous build is untouched' if kept else ''}). Re-run the same command to build it."
                ),
            ) from None
        return PrepareReport(self.prepared_dir, planned)
