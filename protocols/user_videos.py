"""`videos:NAME`: any folder of talking-head videos, prepared like GRID and named by the user.

    bench prepare videos --source DIR --name NAME [--split FILE] [--alignments DIR]
    bench run --model ... --dataset videos:NAME

Source layout: video files (mp4 mkv mov avi webm mpg) with their own audio track, or a wav of the
same stem beside them; in sub-folders, the first folder names the speaker (`spk1/take3.mp4` is
clip `spk1_take3` of speaker `spk1`), at the top level the stem's part before the first `_` does.
Preparation is GRID's: 25 fps (nearest frame), FFHQ-aligned crops from face landmarks, 16 kHz mono.
The split (JSON `{"test": [clip ids]}` or a list; CSV with a `clip_id` column and an optional
`split` column) may live anywhere; without one, every clip is a test clip. Phone alignments, when
given, are per clip: `<clip id>.TextGrid` (a tier named phones, else the last interval tier),
`<clip id>.ctm` (`utt channel start duration phone`), or one HTK `.mlf` for all; without them the
bilabial metric is n/a with that reason. The protocol's fingerprint covers its clip list (the split)
and each clip's content, phone timings included, so another split or alignment is another protocol.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Callable

from benchmark.core.errors import BenchError
from benchmark.core.hashing import sha256_file
from protocols.base import PrepareReport
from protocols.corpora import PreparedCorpusProtocol
from protocols.phones import PhoneEvent, read_htk_mlf
from protocols.prepare import Problem, SourceClip

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".mpg", ".mpeg")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SILENCES = frozenset({"", "sil", "sp", "spn", "<eps>", "_", "pau", "h#"})
SPLIT_SAVED = "user_split.json"  # the split as read at preparation, kept beside the manifest


def prepared_collections(data_root: Path) -> list[str]:
    """Names of the videos protocols prepared under `data_root`."""
    return sorted(p.parent.parent.name for p in (Path(data_root) / "videos").glob("*/v1/manifest.json"))


def prepared_hint(data_root: Path) -> str:
    """What to run instead: the videos protocols prepared here, or how to prepare one."""
    known = prepared_collections(data_root)
    if known:
        return f"prepared here: {', '.join('videos:' + k for k in known)}"
    return "bench prepare videos --source DIR --name NAME [--split FILE] [--alignments DIR]"


def check_name(name: str | None) -> str:
    if not name or not NAME_PATTERN.match(name):
        raise BenchError(
            f"videos protocol name {name!r}: 1-64 letters, digits, . _ - (starting with a letter or digit)",
            hint="e.g. bench prepare videos --source DIR --name my-lab-2026",
        )
    return name


def normalise_phone(label: str) -> str:
    """Aligner labels to the harness's lower-case phone symbols: ARPAbet stress digits dropped, silences '_'."""
    text = label.strip().strip('"')
    if text.lower() in SILENCES:
        return "_"
    return re.sub(r"[0-2]$", "", text).lower() if re.fullmatch(r"[A-Za-z]+[0-2]?", text) else text


def read_textgrid(path: Path) -> list[PhoneEvent]:
    """Praat TextGrid (long or short text format) -> the phones tier's intervals."""
    text = path.read_text(encoding="utf-8", errors="replace")
    tiers = re.split(r'(?:^|\n)\s*(?:item \[\d+\]:|"IntervalTier")', text)[1:]
    if not tiers:
        raise ValueError("no interval tier")
    parsed = []
    for tier in tiers:
        name = re.search(r'name = "([^"]*)"', tier) or re.match(r'\s*"([^"]*)"', tier)
        long_form = re.findall(r'xmin = ([\d.eE+-]+)\s*xmax = ([\d.eE+-]+)\s*text = "((?:[^"]|"")*)"', tier)
        if long_form:
            intervals = long_form
        else:  # short format: the tier's own xmin xmax count, then xmin xmax "text" triples
            tokens = re.findall(r'"(?:[^"]|"")*"|[^\s"]+', tier)
            body = tokens[4:] if name else tokens[3:]
            intervals = [(body[k], body[k + 1], body[k + 2].strip('"')) for k in range(0, len(body) - 2, 3)]
        parsed.append(((name.group(1) if name else "").lower(), intervals))
    chosen = next((iv for tier_name, iv in parsed if tier_name in ("phones", "phone", "phonemes")), parsed[-1][1])
    return [PhoneEvent(normalise_phone(t), float(a), float(b)) for a, b, t in chosen]


def read_ctm(path: Path) -> list[PhoneEvent]:
    events = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts or line.startswith(";"):
            continue
        if len(parts) < 5:
            raise ValueError(f"line {number}: expected 'utterance channel start duration phone'")
        start, duration = float(parts[2]), float(parts[3])
        events.append(PhoneEvent(normalise_phone(parts[4]), start, start + duration))
    return events


def read_split(path: Path) -> list[str]:
    """Clip ids of the test split from JSON ({"test": [...]} or [...]) or CSV (clip_id[, split])."""
    path = Path(path).expanduser()
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text())
            ids = data.get("test") if isinstance(data, dict) else data
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise ValueError('expected {"test": ["clip id", ...]} or a list of clip ids')
            return ids
        with open(path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's "CSV UTF-8" starts with a BOM
            reader = csv.DictReader(f)
            header = [(name or "").strip() for name in reader.fieldnames or []]
            rows = [{(k or "").strip(): (v or "") for k, v in row.items()} for row in reader]
    except (OSError, ValueError) as exc:
        raise BenchError(
            f"--split {path}: cannot be read ({exc})",
            hint='a JSON {"test": [clip ids]} or a CSV with a clip_id column (and optionally split)',
        ) from None
    if "clip_id" not in header:
        has = f"its header is {','.join(header)!r}" if header else "it is empty"
        raise BenchError(
            f"--split {path}: no clip_id column ({has})",
            hint="make the first line clip_id,split (comma-separated; the split column is optional)",
        )
    return [r["clip_id"].strip() for r in rows if r.get("split", "test").strip().lower() == "test"]


def _clip_of(video: Path, source: Path) -> tuple[str, str]:
    """(clip id, speaker) from the file's place in the source folder."""
    parts = video.relative_to(source).with_suffix("").parts
    speaker = parts[0] if len(parts) > 1 else parts[0].split("_")[0]
    clip_id = "_".join(parts) if len(parts) > 1 else parts[0]
    return re.sub(r"[^A-Za-z0-9._-]", "-", clip_id), re.sub(r"[^A-Za-z0-9._-]", "-", speaker)


class VideosProtocol(PreparedCorpusProtocol):
    name = "videos"
    version = "v1"
    prepare_options = ("name", "split", "alignments")
    description = "your own folder of talking-head videos (bench prepare videos --source DIR --name NAME)"
    corpus_layout = "video files with audio (or a same-stem .wav), optionally in one folder per speaker"

    def __init__(self, data_root: Path, collection: str = ""):
        super().__init__(data_root)
        self.collection = check_name(collection) if collection else ""
        self.corpus = f"videos/{self.collection}"
        self.split_file: Path | None = None
        self.alignments: Path | None = None

    @classmethod
    def open(cls, data_root: Path, collection: str | None = None) -> "VideosProtocol":
        if not collection:
            raise BenchError(
                "the videos protocol needs the name it was prepared under: --dataset videos:NAME "
                "(bench prepare videos --name NAME)",
                hint=prepared_hint(Path(data_root)),
            )
        return cls(data_root, collection)

    @property
    def id(self) -> str:
        return f"videos:{self.collection}/{self.version}"

    def not_prepared_error(self):
        from benchmark.core.errors import DatasetNotPreparedError

        return DatasetNotPreparedError(
            f"videos:{self.collection} is not prepared: no {self.prepared_dir / 'manifest.json'}",
            hint=prepared_hint(self.data_root),
        )

    # ---- preparation hooks -------------------------------------------------------------------

    def load_split(self) -> dict:
        if self.split_file is None:
            return {"test": None, "source": "every clip found (no --split given)"}
        ids = read_split(self.split_file)
        return {"test": ids, "source": str(self.split_file), "sha256": sha256_file(self.split_file)}

    def expected_speakers(self, split, sources, problems) -> list[str]:
        return sorted({s.speaker for s in sources} | {p.speaker for p in problems if p.speaker})

    def manifest_extra(self) -> dict:
        return {
            "collection": self.collection,
            "alignments": str(self.alignments) if self.alignments else None,
            "identity_rule": self.identity_rule,
        }

    def discover(self, source: Path, test_ids: list[str] | None) -> tuple[list[SourceClip], list[Problem]]:
        videos = sorted(p for p in source.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        if not videos:
            raise BenchError(
                f"--source {source}: no video files found (looked for {' '.join(VIDEO_SUFFIXES)}, in sub-folders too)",
                hint=f"point --source at the folder holding your videos ({self.corpus_layout})",
            )
        found, problems = {}, []
        for video in videos:
            clip_id, speaker = _clip_of(video, source)
            if clip_id in found:
                problems.append(
                    Problem(
                        str(video),
                        f"a second video for clip id {clip_id} ({found[clip_id][0]} is the first); rename one",
                        "duplicate-clip",
                        speaker,
                        clip_id,
                    )
                )
                continue
            found[clip_id] = (video, speaker)
        wanted = list(found) if test_ids is None else list(dict.fromkeys(test_ids))
        for clip_id in wanted:
            if clip_id not in found:
                problems.append(
                    Problem(
                        str(self.split_file),
                        f"split names {clip_id}, which has no video in {source}",
                        "missing-clip",
                        None,
                        clip_id,
                    )
                )
        mlf = self._mlf()
        sources = []
        for clip_id in (c for c in wanted if c in found):
            video, speaker = found[clip_id]
            wav = video.with_suffix(".wav")
            try:
                phones, labels = self._phones(clip_id, video, mlf)
            except (OSError, ValueError) as exc:
                problems.append(
                    Problem(
                        str(exc.filename if isinstance(exc, OSError) else self.alignments),
                        f"alignment of {clip_id} cannot be read: {exc}",
                        "malformed-alignment",
                        speaker,
                        clip_id,
                    )
                )
                continue
            sources.append(SourceClip(clip_id, speaker, video, wav if wav.is_file() else None, tuple(phones), labels))
        return sources, problems

    def _mlf(self) -> dict[str, list[PhoneEvent]]:
        if self.alignments is None:
            return {}
        files = sorted(self.alignments.glob("*.mlf"))
        out = {}
        for path in files:
            out.update({Path(k.replace("\\", "/")).stem: v for k, v in read_htk_mlf(path).items()})
        return out

    def _phones(self, clip_id: str, video: Path, mlf: dict) -> tuple[list[PhoneEvent], Path | None]:
        if self.alignments is None:
            return [], None
        for stem in (clip_id, video.stem):
            for suffix, reader in ((".TextGrid", read_textgrid), (".textgrid", read_textgrid), (".ctm", read_ctm)):
                path = self.alignments / f"{stem}{suffix}"
                if path.is_file():
                    return reader(path), path
            if stem in mlf:
                return mlf[stem], self.alignments
        raise ValueError(f"no {clip_id}.TextGrid, {clip_id}.ctm or .mlf entry in {self.alignments}")

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
        self.refuse_options(split=split, alignments=alignments)
        if split is not None and not Path(split).expanduser().is_file():
            raise BenchError(f"--split {split}: no such file", hint='a JSON {"test": [clip ids]} or a CSV with clip_id')
        if alignments is not None and not Path(alignments).expanduser().is_dir():
            raise BenchError(
                f"--alignments {alignments}: not a folder",
                hint="a folder of <clip id>.TextGrid / .ctm files, or one .mlf",
            )
        self.split_file = Path(split).expanduser().resolve() if split else None
        self.alignments = Path(alignments).expanduser().resolve() if alignments else None
        return super().prepare(source, sizes=sizes, workers=workers, force=force, progress=progress, on_total=on_total)
