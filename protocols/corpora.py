"""Public corpora (GRID, TCD-TIMIT): prepared from the user's own copy with `bench prepare`.

This module and protocols/prepare.py are the only places that know a corpus layout; adding
CREMA-D or LRS2 means a `discover` for its layout and a split file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from benchmark.core.errors import BenchError, DatasetNotPreparedError
from benchmark.core.hashing import sha256_json
from benchmark.core.types import SAFE_ID_RULE, is_safe_clip_id
from protocols.base import ManifestProtocol, PrepareReport, clip_list_fingerprint
from protocols.phones import expand_words, read_grid_align, read_htk_mlf
from protocols.prepare import FPS, PREP_VERSION, SAMPLE_RATE, Problem, SourceClip, prepare_clips
from protocols import source_checks
from protocols.source_checks import SourceProblem, check_timings
from protocols.splits import load_split


def partial_summary(problems: list[Problem], present: list[dict], speakers: list[str]) -> dict | None:
    """None when every speaker of the split and every clip found for it was prepared; otherwise what
    is missing and why. A missing speaker's clips cannot be counted (the split names speakers, not
    clips), so `n_expected` counts the clips found for the split's speakers and the missing
    speakers are listed and counted apart."""
    have = {c["speaker"] for c in present}
    if not problems and have >= set(speakers):
        return None
    missing = [p.missing() for p in problems]
    missing += [
        {"speaker": s, "kind": "missing-speaker", "reason": f"no clip of {s} was found"}
        for s in speakers
        if s not in have and not any(m.get("speaker") == s for m in missing)
    ]
    n_missing_clips = sum(1 for m in missing if "clip" in m)
    return {
        "missing": missing,
        "n_expected": len(present) + n_missing_clips,
        "n_present": len(present),
        "n_speakers_expected": len(speakers),
        "n_speakers_present": len(have & set(speakers)),
        "missing_speakers": [s for s in speakers if s not in have],
    }


class PreparedCorpusProtocol(ManifestProtocol):
    corpus: str = ""
    corpus_layout: str = ""
    size = 256
    identity_rule = "the clip's own first frame after face alignment (as the thesis does): same speaker, same session"

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

    def discover(self, source: Path, speakers: list[str]) -> tuple[list[SourceClip], list[Problem]]:
        raise NotImplementedError

    def load_split(self) -> dict:
        """The split file shipped with the harness: {"test": [speakers], "source": ...}."""
        return load_split(self.corpus, self.version)

    def expected_speakers(self, split: dict, sources: list[SourceClip], problems: list[Problem]) -> list[str]:
        """The speakers a whole protocol has (a missing one makes it partial)."""
        return split["test"]

    def manifest_extra(self) -> dict:
        return {}

    @staticmethod
    def _safe_ids(sources: list[SourceClip], problems: list[Problem]) -> list[SourceClip]:
        """Clip ids and speakers name the folders clips are prepared into: one that is not a safe
        file name is a problem, never a path outside the data folder."""
        safe = []
        for src in sources:
            if is_safe_clip_id(src.clip_id) and is_safe_clip_id(src.speaker):
                safe.append(src)
                continue
            problems.append(
                Problem(
                    str(src.video),
                    f"clip id {src.clip_id!r} of speaker {src.speaker!r} is not a safe "
                    f"file name ({SAFE_ID_RULE}); rename the file",
                    "unsafe-clip-id",
                    src.speaker,
                    src.clip_id,
                )
            )
        return safe

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
        """Validate the source, prepare every test clip that can be, write the split manifest.

        `on_total(n)` is told how many clips will be prepared as soon as the source is scanned (progress bars).
        Prepared clips are always reused (their inputs are hashed), so `force` changes nothing here;
        `split` and `alignments` are for the protocols whose `prepare_options` list them."""
        self.refuse_options(split=split, alignments=alignments)
        if source is None:
            raise BenchError(
                f"preparing {self.name} needs your copy of {self.corpus}",
                hint=f"bench prepare {self.name} --source /path/to/{self.corpus}",
            )
        source = Path(source).expanduser()
        if not source.is_dir():
            raise BenchError(
                f"--source {source} is not a folder", hint=f"point it at your {self.corpus} copy ({self.corpus_layout})"
            )
        if self.size not in sizes:
            sizes = (self.size, *sizes)
        split = self.load_split()
        sources, problems = self.discover(source, split["test"])
        sources = self._safe_ids(sources, problems)
        if not sources and not problems:
            raise BenchError(
                f"--source {source}: nothing to prepare (no clip of the split was found there)",
                hint=f"point --source at your copy of {self.corpus} ({self.corpus_layout})",
            )
        self.planned = len(sources)
        if on_total:
            on_total(len(sources))
        entries, failures = prepare_clips(sources, self.clips_root, sizes, workers=workers, progress=progress)
        problems += failures
        if not entries:
            return PrepareReport(self.prepared_dir, 0, problems=problems)
        clips = []
        for e in entries:
            rel = Path("..") / "clips" / e["speaker"] / e["id"]
            files = {
                "video": str(rel / e["files"][f"video_{self.size}"]),
                "identity": str(rel / e["files"][f"identity_{self.size}"]),
                "audio": str(rel / e["files"]["audio"]),
                "annotations": str(rel / e["files"]["annotations"]),
            }
            used = {
                k: e["sha256"][n]
                for k, n in (
                    ("video", f"video_{self.size}"),
                    ("identity", f"identity_{self.size}"),
                    ("audio", "audio"),
                    ("annotations", "annotations"),
                )
            }
            clips.append(
                {
                    "id": e["id"],
                    "speaker": e["speaker"],
                    "n_frames": e["n_frames"],
                    "files": files,
                    "sha256": used,
                    "fingerprint": sha256_json(used),
                    "face_coverage": e["face_coverage"],
                }
            )
        manifest = {
            "protocol": self.name,
            "corpus": self.corpus,
            "version": self.version,
            "split": split,
            "preprocessing": {
                "version": PREP_VERSION,
                "fps": FPS,
                "alignment": "FFHQ quad, smoothed over time",
                "landmarks": entries[0].get("landmarks", "mediapipe"),
                "sizes": list(sizes),
                "audio": f"{SAMPLE_RATE} Hz mono",
                "source_checks": source_checks.thresholds(),
            },
            "fps": FPS,
            "size": [self.size, self.size],
            "sample_rate": SAMPLE_RATE,
            "clips": clips,
            "fingerprint": clip_list_fingerprint((c["id"], c["fingerprint"]) for c in clips),
            "problems": [
                {"file": p.file, "problem": p.message, "kind": p.kind, "speaker": p.speaker, "clip": p.clip}
                for p in problems
            ],
            "partial": partial_summary(problems, clips, self.expected_speakers(split, sources, problems)),
            **self.manifest_extra(),
        }
        self.prepared_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.prepared_dir / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1) + "\n")
        tmp.replace(self.prepared_dir / "manifest.json")
        return PrepareReport(
            self.prepared_dir,
            len(clips),
            reused=sum(e.get("reused", False) for e in entries),
            problems=problems,
            partial=manifest["partial"],
        )


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
                problems.append(
                    Problem(
                        str(source / speaker),
                        f"missing speaker {speaker}: no {speaker}/*.mpg under {source}",
                        "missing-speaker",
                        speaker,
                    )
                )
                continue
            for key in videos:
                video, clip_id = found["mpg"][key], f"{speaker}_{key[1]}"
                wav, align = found["wav"].get(key), found["align"].get(key)
                if wav is None:
                    problems.append(
                        Problem(
                            str(video.with_suffix(".wav")),
                            f"missing audio {key[1]}.wav for {video}",
                            "missing-audio",
                            speaker,
                            clip_id,
                        )
                    )
                    continue
                if align is None:
                    problems.append(
                        Problem(
                            f"{speaker}/align/{key[1]}.align",
                            f"missing word alignment for {video}",
                            "missing-alignment",
                            speaker,
                            clip_id,
                        )
                    )
                    continue
                try:
                    words = read_grid_align(align)
                    check_timings(words)
                    phones = tuple(expand_words(words))
                except SourceProblem as exc:
                    problems.append(Problem(str(align), str(exc), exc.kind, speaker, clip_id))
                    continue
                except (ValueError, KeyError) as exc:
                    problems.append(
                        Problem(str(align), f"malformed alignment: {exc}", "malformed-alignment", speaker, clip_id)
                    )
                    continue
                sources.append(SourceClip(clip_id, speaker, video, wav, phones, align))
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
            return [], [
                Problem(
                    str(source / "volunteer_labelfiles.mlf"),
                    "missing the phone label file volunteer_labelfiles.mlf",
                    "missing-alignment",
                )
            ]
        labels, bad_blocks = {}, {}
        try:
            parsed = read_htk_mlf(mlfs[0], errors=bad_blocks)
        except ValueError as exc:
            return [], [Problem(str(mlfs[0]), f"malformed label file: {exc}", "malformed-alignment")]
        for key, phones in [*parsed.items(), *bad_blocks.items()]:
            path = Path(key.replace("\\", "/"))
            who = _speaker_of(path, volunteer)
            if who:
                labels[(who, path.stem.lower())] = phones  # a list of phones, or the block's parse error
        sources, problems = [], []
        for speaker in speakers:
            folder = source / "volunteers" / speaker
            videos = sorted(p for p in folder.rglob("*.mp4") if "straightcam" in p.parts) if folder.is_dir() else []
            if not videos:
                problems.append(
                    Problem(
                        str(folder),
                        f"missing volunteer {speaker}: no {folder}/Clips/straightcam/*.mp4",
                        "missing-speaker",
                        speaker,
                    )
                )
                continue
            for video in videos:
                clip_id = f"{speaker}_{video.stem}"
                phones = labels.get((speaker, video.stem.lower()))
                if phones is None:
                    problems.append(
                        Problem(
                            str(video),
                            f"no phone labels for {speaker}/{video.stem} in {mlfs[0]}",
                            "missing-alignment",
                            speaker,
                            clip_id,
                        )
                    )
                    continue
                try:
                    if isinstance(phones, str):
                        raise SourceProblem("malformed-alignment", f"malformed alignment: {phones}")
                    check_timings([(p.start, p.end, p.phone) for p in phones])
                except SourceProblem as exc:
                    problems.append(Problem(str(mlfs[0]), f"{speaker}/{video.stem}: {exc}", exc.kind, speaker, clip_id))
                    continue
                sources.append(SourceClip(clip_id, speaker, video, None, tuple(phones), mlfs[0]))
        return sources, problems


class TcdTimitOfficial17Protocol(TcdTimitProtocol):
    name = "tcd-timit-official17"
    version = "official17"
    description = "TCD-TIMIT, the official 17 speaker-independent test volunteers"
