"""Public corpora (GRID, TCD-TIMIT): prepared from the user's own copy with `bench prepare`.

This module and protocols/prepare.py are the only places that know a corpus layout; adding
CREMA-D or LRS2 means a `discover` for its layout and a split file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from benchmark.errors import BenchError, DatasetNotPreparedError
from benchmark.fingerprint import sha256_json
from protocols.base import ManifestProtocol
from protocols.phones import expand_words, read_grid_align, read_htk_mlf
from protocols.prepare import FPS, PREP_VERSION, SAMPLE_RATE, SourceClip, prepare_clips
from protocols.splits import load_split

Problem = tuple[str, str]  # (file or folder, what is wrong)


class PreparedCorpusProtocol(ManifestProtocol):
    corpus: str = ""
    corpus_layout: str = ""
    size = 256

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"{self.name} is not prepared: no {self.prepared_dir / 'manifest.json'}.\n"
            f"  The harness cannot download {self.corpus}; it prepares it from your own copy laid out as {self.corpus_layout}.",
            hint=f"run `bench prepare {self.name} --source /path/to/{self.corpus}` "
            f"(or point --data-dir / $BENCH_DATA at an already prepared cache)",
        )

    @property
    def id(self) -> str:
        return f"{self.corpus}/{self.version}"

    @property
    def prepared_dir(self) -> Path:
        return self.data_root / self.corpus / self.version

    @property
    def clips_root(self) -> Path:
        return self.data_root / self.corpus / "clips"

    def is_prepared(self) -> bool:
        return (self.prepared_dir / "manifest.json").is_file()

    def discover(self, source: Path, speakers: list[str]) -> tuple[list[SourceClip], list[Problem]]:
        raise NotImplementedError

    def prepare(self, source: Path | None = None, sizes=(256,), workers=None, progress=None, force=False,
                on_total=None) -> dict:
        """Validate the source, prepare every test clip that can be, write the split manifest.

        `on_total(n)` is told how many clips will be prepared as soon as the source is scanned (progress bars)."""
        if source is None:
            raise BenchError(f"preparing {self.name} needs your copy of {self.corpus}",
                             hint=f"bench prepare {self.name} --source /path/to/{self.corpus}")
        source = Path(source).expanduser()
        if not source.is_dir():
            raise BenchError(f"--source {source} is not a folder", hint=f"point it at your {self.corpus} copy ({self.corpus_layout})")
        if self.size not in sizes:
            sizes = (self.size, *sizes)
        split = load_split(self.corpus, self.version)
        sources, problems = self.discover(source, split["test"])
        self.planned = len(sources)
        if on_total:
            on_total(len(sources))
        entries, failures = prepare_clips(sources, self.clips_root, sizes, workers=workers, progress=progress)
        problems += failures
        if not entries:
            return {"clips": 0, "reused": 0, "problems": problems}
        clips = []
        for e in entries:
            rel = Path("..") / "clips" / e["speaker"] / e["id"]
            files = {"video": str(rel / e["files"][f"video_{self.size}"]), "identity": str(rel / e["files"][f"identity_{self.size}"]),
                     "audio": str(rel / e["files"]["audio"]), "annotations": str(rel / e["files"]["annotations"])}
            used = {k: e["sha256"][n] for k, n in (("video", f"video_{self.size}"), ("identity", f"identity_{self.size}"),
                                                   ("audio", "audio"), ("annotations", "annotations"))}
            clips.append({"id": e["id"], "speaker": e["speaker"], "n_frames": e["n_frames"], "files": files,
                          "sha256": used, "fingerprint": sha256_json(used), "face_coverage": e["face_coverage"]})
        manifest = {"protocol": self.name, "corpus": self.corpus, "version": self.version, "split": split,
                    "preprocessing": {"version": PREP_VERSION, "fps": FPS, "alignment": "FFHQ quad, smoothed over time",
                                      "landmarks": entries[0].get("landmarks", "mediapipe"), "sizes": list(sizes),
                                      "audio": f"{SAMPLE_RATE} Hz mono"},
                    "fps": FPS, "size": [self.size, self.size], "sample_rate": SAMPLE_RATE, "clips": clips,
                    "fingerprint": sha256_json([c["fingerprint"] for c in clips]),
                    "problems": [{"file": f, "problem": m} for f, m in problems]}
        self.prepared_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.prepared_dir / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(self.prepared_dir / "manifest.json")
        return {"clips": len(clips), "reused": sum(e.get("reused", False) for e in entries), "problems": problems}


def _speaker_of(path: Path, pattern: re.Pattern) -> str | None:
    for part in reversed(path.parts[:-1]):
        if pattern.match(part):
            return part
    return None


class GridProtocol(PreparedCorpusProtocol):
    name = "grid"
    corpus = "grid"
    version = "unseen10-v1"
    description = "GRID, ten held-out speakers (s2 s4 s11 s13 s15 s18 s19 s25 s31 s33), FFHQ-aligned 256x256"
    corpus_layout = "s{N}/*.mpg, s{N}/*.wav and the word alignments (align/*.align per speaker)"

    def discover(self, source: Path, speakers: list[str]) -> tuple[list[SourceClip], list[Problem]]:
        speaker_dir = re.compile(r"^s\d+$")
        found: dict[str, dict[tuple[str, str], Path]] = {"mpg": {}, "wav": {}, "align": {}}
        for path in sorted(source.rglob("*")):
            kind = path.suffix.lower().lstrip(".")
            if kind in found and path.is_file():
                speaker = _speaker_of(path, speaker_dir)
                if speaker:
                    found[kind].setdefault((speaker, path.stem), path)
        sources, problems = [], []
        for speaker in speakers:
            videos = sorted(k for k in found["mpg"] if k[0] == speaker)
            if not videos:
                problems.append((str(source / speaker), f"missing speaker {speaker}: no {speaker}/*.mpg under {source}"))
                continue
            for key in videos:
                video = found["mpg"][key]
                wav, align = found["wav"].get(key), found["align"].get(key)
                if wav is None:
                    problems.append((str(video.with_suffix(".wav")), f"missing audio {key[1]}.wav for {video}"))
                    continue
                if align is None:
                    problems.append((f"{speaker}/align/{key[1]}.align", f"missing word alignment for {video}"))
                    continue
                try:
                    phones = tuple(expand_words(read_grid_align(align)))
                except (ValueError, KeyError) as exc:
                    problems.append((str(align), f"unreadable alignment: {exc}"))
                    continue
                sources.append(SourceClip(f"{speaker}_{key[1]}", speaker, video, wav, phones))
        return sources, problems


class GridS29Protocol(GridProtocol):
    name = "grid-s29"
    version = "s29"
    description = "GRID speaker s29 only (ATVGnet's test speaker), FFHQ-aligned 256x256"


class TcdTimitProtocol(PreparedCorpusProtocol):
    name = "tcd-timit"
    corpus = "tcd-timit"
    version = "heldout10-v1"
    description = "TCD-TIMIT, ten held-out volunteers from the official test set, 25 fps, FFHQ-aligned"
    corpus_layout = "volunteers/NNX/Clips/straightcam/*.mp4 plus volunteer_labelfiles.mlf"

    def discover(self, source: Path, speakers: list[str]) -> tuple[list[SourceClip], list[Problem]]:
        volunteer = re.compile(r"^\d\d[MF]$")
        mlfs = sorted(source.rglob("volunteer_labelfiles.mlf"))
        if not mlfs:
            return [], [(str(source / "volunteer_labelfiles.mlf"), "missing the phone label file volunteer_labelfiles.mlf")]
        labels = {}
        for key, phones in read_htk_mlf(mlfs[0]).items():
            path = Path(key.replace("\\", "/"))
            who = _speaker_of(path, volunteer)
            if who:
                labels[(who, path.stem.lower())] = tuple(phones)
        sources, problems = [], []
        for speaker in speakers:
            folder = source / "volunteers" / speaker
            videos = sorted(p for p in folder.rglob("*.mp4") if "straightcam" in p.parts) if folder.is_dir() else []
            if not videos:
                problems.append((str(folder), f"missing volunteer {speaker}: no {folder}/Clips/straightcam/*.mp4"))
                continue
            for video in videos:
                phones = labels.get((speaker, video.stem.lower()))
                if phones is None:
                    problems.append((str(video), f"no phone labels for {speaker}/{video.stem} in {mlfs[0]}"))
                    continue
                sources.append(SourceClip(f"{speaker}_{video.stem}", speaker, video, None, phones))
        return sources, problems


class TcdTimitOfficial17Protocol(TcdTimitProtocol):
    name = "tcd-timit-official17"
    version = "official17"
    description = "TCD-TIMIT, the official 17 speaker-independent test volunteers"
