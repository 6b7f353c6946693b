"""Public corpora (GRID, TCD-TIMIT): prepared from the user's own copy with `bench prepare`."""

from __future__ import annotations

from benchmark.errors import DatasetNotPreparedError
from protocols.base import ManifestProtocol


class PreparedCorpusProtocol(ManifestProtocol):
    corpus_layout: str = ""

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"{self.name} is not prepared: no {self.prepared_dir / 'manifest.json'}.\n"
            f"  The harness cannot download {self.name}; it prepares it from your own copy laid out as {self.corpus_layout}.",
            hint=f"run `bench prepare {self.name} --source /path/to/{self.name}` "
            f"(or point --data-dir / $BENCH_DATA at an already prepared cache)",
        )


class GridProtocol(PreparedCorpusProtocol):
    name = "grid"
    version = "unseen10-v1"
    description = "GRID, ten held-out speakers (s2 s4 s11 s13 s15 s18 s19 s25 s31 s33), FFHQ-aligned 256x256"
    corpus_layout = "s{N}/*.mpg, s{N}/*.wav, align/*.align (the published per-speaker archives)"


class TcdTimitProtocol(PreparedCorpusProtocol):
    name = "tcd-timit"
    version = "heldout10-v1"
    description = "TCD-TIMIT, ten held-out volunteers from the official test set, 25 fps, FFHQ-aligned"
    corpus_layout = "volunteers/NNX/Clips/straightcam/*.mp4 plus volunteer_labelfiles.mlf"
