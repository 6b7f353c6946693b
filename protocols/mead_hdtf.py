"""MEAD and HDTF: the corpora recent papers report on, prepared from the user's copy like any videos protocol.

Neither has an official test split, so each named protocol copies one a paper documented and ships it
as a split file naming its source (protocols/splits/mead, protocols/splits/hdtf). Preparation is the
`videos` protocol's (25 fps nearest frame, FFHQ-aligned crops, 16 kHz mono); only the layouts differ.
Neither corpus ships phone timings: bilabial is n/a unless `--alignments` gives them.
"""

from __future__ import annotations

import re
from pathlib import Path

from benchmark.core.errors import DatasetNotPreparedError
from protocols.corpora import PreparedCorpusProtocol
from protocols.prepare import Problem, SourceClip
from protocols.splits import load_split
from protocols.user_videos import VideosProtocol

MEAD_AUDIO_SUFFIXES = (".m4a", ".wav", ".aac", ".mp3")
HDTF_GROUPS = ("RD", "WDA", "WRA")  # radio addresses, Democrat and Republican addresses


class _NamedCollection(VideosProtocol):
    """A videos protocol whose split ships with the harness instead of coming from `--split`."""

    corpus = ""
    prepare_options = ("alignments",)

    def __init__(self, data_root: Path):
        PreparedCorpusProtocol.__init__(self, data_root)
        self.collection = ""
        self.split_file = None
        self.alignments = None

    @classmethod
    def open(cls, data_root: Path, collection: str | None = None) -> "_NamedCollection":
        return cls(data_root)  # one protocol, named by the harness: no collection name

    @property
    def id(self) -> str:
        return f"{self.corpus}/{self.version}"

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return PreparedCorpusProtocol.not_prepared_error(self)

    def load_split(self) -> dict:
        return load_split(self.corpus, self.version)

    def manifest_extra(self) -> dict:
        return {"alignments": str(self.alignments) if self.alignments else None, "identity_rule": self.identity_rule}

    def _add_source(
        self,
        sources: list,
        problems: list,
        mlf: dict,
        clip_id: str,
        speaker: str,
        video: Path,
        audio: Path | None,
        first_seconds: float | None = None,
    ) -> None:
        """The clip with its phone timings (when --alignments was given), or the problem reading them."""
        try:
            phones, labels = self._phones(clip_id, video, mlf)
        except (OSError, ValueError) as exc:
            problems.append(
                Problem(
                    str(self.alignments),
                    f"alignment of {clip_id} cannot be read: {exc}",
                    "malformed-alignment",
                    speaker,
                    clip_id,
                )
            )
            return
        sources.append(SourceClip(clip_id, speaker, video, audio, tuple(phones), labels, first_seconds))


class MeadProtocol(_NamedCollection):
    name = "mead"
    corpus = "mead"
    version = "eat-test-v1"
    description = "MEAD front view, EAT's test speakers M003 M030 W009 W015, every emotion and level"
    corpus_layout = "SPEAKER/video/front/EMOTION/level_N/NNN.mp4 with SPEAKER/audio/EMOTION/level_N/NNN.m4a"

    def expected_speakers(self, split, sources, problems) -> list[str]:
        return split["test"]

    def discover(self, source: Path, speakers: list[str]) -> tuple[list[SourceClip], list[Problem]]:
        """Clip `M003_angry_level_1_001` is M003/video/front/angry/level_1/001.mp4; its audio the
        same path under M003/audio/ (MEAD ships audio apart), else the video's own track."""
        view = self.load_split().get("view", "front")
        sources, problems = [], []
        mlf = self._mlf()
        for speaker in speakers:
            videos_dir = source / speaker / "video" / view
            videos = sorted(p for p in videos_dir.rglob("*.mp4") if p.is_file()) if videos_dir.is_dir() else []
            if not videos:
                problems.append(
                    Problem(
                        str(videos_dir),
                        f"missing speaker {speaker}: no {speaker}/video/{view}/EMOTION/level_N/*.mp4 under {source}",
                        "missing-speaker",
                        speaker,
                    )
                )
                continue
            for video in videos:
                relative = video.relative_to(videos_dir).with_suffix("")
                clip_id = "_".join((speaker, *relative.parts))
                audio = next(
                    (
                        a
                        for s in MEAD_AUDIO_SUFFIXES
                        if (a := (source / speaker / "audio" / relative).with_suffix(s)).is_file()
                    ),
                    None,
                )
                self._add_source(sources, problems, mlf, clip_id, speaker, video, audio)
        return sources, problems


class MeadM003Protocol(MeadProtocol):
    name = "mead-m003"
    version = "m003-v1"
    description = "MEAD front view, speaker M003 only (the MEAD paper's test speaker)"


def hdtf_source_video(stem: str) -> str:
    """The source video a clip was cut from: `WDA_BarackObama_001` and `BarackObama_1` -> `BarackObama`.

    Stands as the clip's speaker (a person may have several source videos: AmyKlobuchar0, AmyKlobuchar1)."""
    name = re.sub(rf"^(?:{'|'.join(HDTF_GROUPS)})_", "", stem)
    return re.sub(r"_\d+$", "", name) or stem


class HdtfProtocol(_NamedCollection):
    name = "hdtf"
    corpus = "hdtf"
    version = "omniavatar-15s-v1"
    description = "HDTF, every clip's first 15 s (OmniAvatar's evaluation set; HDTF has no official split)"
    corpus_layout = "the clips cut by HDTF's annotation times, e.g. WDA_BarackObama_000.mp4 (any sub-folders)"

    def discover(self, source: Path, test_ids: list[str] | None) -> tuple[list[SourceClip], list[Problem]]:
        first_seconds = self.load_split().get("first_seconds")
        sources, problems = [], []
        mlf = self._mlf()
        seen: dict[str, Path] = {}
        for video in sorted(p for p in source.rglob("*.mp4") if p.is_file()):
            clip_id = re.sub(r"[^A-Za-z0-9._-]", "-", video.stem)
            speaker = re.sub(r"[^A-Za-z0-9._-]", "-", hdtf_source_video(video.stem))
            if clip_id in seen:
                problems.append(
                    Problem(
                        str(video),
                        f"a second file for clip {clip_id} ({seen[clip_id]} is the first); keep one",
                        "duplicate-clip",
                        speaker,
                        clip_id,
                    )
                )
                continue
            seen[clip_id] = video
            self._add_source(sources, problems, mlf, clip_id, speaker, video, None, first_seconds)
        return sources, problems
