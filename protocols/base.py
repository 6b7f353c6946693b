"""A protocol = a dataset split, prepared a fixed way, behind one interface.

Only the protocol layer knows a corpus: the runner sees `Clip`s and a fingerprint.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ClassVar

from benchmark.core.errors import BenchError, DatasetNotPreparedError
from benchmark.core.hashing import sha256_json
from benchmark.core.types import Clip, check_clip_id


def clip_list_fingerprint(clips) -> str:
    """The one fingerprint of a clip list, from (clip id, clip fingerprint) pairs in order: what a
    manifest records, `bench prepare` prints and a run's record carries as clip_list_fingerprint."""
    return sha256_json([[clip_id, fingerprint] for clip_id, fingerprint in clips])


# the `bench prepare` options only some protocols take; each protocol declares its own in `prepare_options`
PREPARE_OPTIONS = ("name", "split", "alignments")
OPTION_VALUES = {"name": "NAME", "split": "FILE", "alignments": "DIR"}


@dataclass
class PrepareReport:
    """What `Protocol.prepare` did: the clips in the prepared data, how many were already there, the
    source files that could not be prepared (`protocols.prepare.Problem`, by file) and what the
    prepared data lacks of the whole split (`Protocol.partial`'s form; None: nothing)."""

    folder: Path
    clips: int
    reused: int = 0
    problems: list = field(default_factory=list)
    partial: dict | None = None


class Protocol(ABC):
    """The interface the engine and the CLI use, declared here with one signature for every protocol
    (tests/test_interfaces.py checks each registered one): they never ask which protocol it is."""

    name: ClassVar[str]  # registry name, e.g. "mini" or "grid"
    version: ClassVar[str]
    description: ClassVar[str] = ""
    builds_itself: ClassVar[bool] = (
        False  # True: built from what ships with the harness (no --source); `bench run` prepares it on first use
    )
    # which of PREPARE_OPTIONS (`bench prepare --name / --split / --alignments`) it takes; the others are refused
    prepare_options: ClassVar[tuple[str, ...]] = ()
    identity_rule: ClassVar[str] = (
        "the protocol's identity image for the clip"  # how the identity image is chosen (bench export)
    )

    def __init__(self, data_root: Path):
        self.data_root = Path(data_root)

    @property
    def id(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def partial(self) -> dict | None:
        """None when the prepared data holds the whole split; otherwise what is missing and why:
        {"missing": [{"clip" or "speaker", "kind", "reason"}], "n_expected", "n_present", ...}."""
        return None

    @abstractmethod
    def clips(self) -> list[Clip]:
        """All clips of the split; raises DatasetNotPreparedError when the data is not on disk."""

    @property
    @abstractmethod
    def prepared_dir(self) -> Path:
        """The folder of the prepared data; the ground-truth feature cache lives under it (`features/`)."""

    @abstractmethod
    def is_prepared(self) -> bool:
        """Whether `clips()` finds the prepared data on disk."""

    @abstractmethod
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
        """Prepare the data `clips()` reads. `source`: the user's copy of the corpus (None for a
        protocol that builds itself); `sizes`: crop sizes to write; `workers`: parallel clips;
        `force`: rebuild what is already there; `progress(clip_id)` after each clip; `on_total(n)`
        once the number of clips is known; `split` / `alignments`: only where `prepare_options`
        lists them. Ctrl-C raises `protocols.prepare.PrepareInterrupted`, saying what was kept."""

    @classmethod
    def open(cls, data_root: Path, collection: str | None = None) -> "Protocol":
        """The protocol over `data_root`. `collection`: the name it was prepared under, for a protocol
        that takes one (`prepare_options` has "name": one protocol per collection, `videos:NAME`);
        the others take none."""
        return cls(data_root)

    @classmethod
    def refuse_options(cls, **given) -> None:
        """One BenchError when a `bench prepare` option this protocol does not take (see
        `prepare_options`) was given: dropped silently, it would prepare something else than asked."""
        refused = [option for option in PREPARE_OPTIONS if option not in cls.prepare_options]
        if not any(given.get(option) for option in refused):
            return
        flags = [f"--{option}" for option in refused]
        listed = flags[0] if len(flags) == 1 else ", ".join(flags[:-1]) + " and " + flags[-1]
        usage = (
            f"bench prepare {cls.name}"
            + ("" if cls.builds_itself else " --source DIR")
            + "".join(f" [--{option} {OPTION_VALUES[option]}]" for option in cls.prepare_options)
        )
        raise BenchError(
            f"{listed} {'is' if len(flags) == 1 else 'are'} for `bench prepare videos`, not {cls.name}", hint=usage
        )

    def fingerprint(self, clips: list[Clip] | None = None) -> str:
        """Hash of the clip list and each clip's content: two runs with equal fingerprints saw the same data."""
        clips = self.clips() if clips is None else clips
        return clip_list_fingerprint((c.id, c.fingerprint) for c in clips)


class ManifestProtocol(Protocol):
    """A protocol whose prepared data is a folder with a manifest.json listing its clips."""

    @property
    def prepared_dir(self) -> Path:
        return self.data_root / self.name / self.version

    def is_prepared(self) -> bool:
        return (self.prepared_dir / "manifest.json").is_file()

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"{self.name} is not prepared: no {self.prepared_dir / 'manifest.json'}",
            hint=f"run `bench prepare {self.name}`",
        )

    def manifest(self) -> dict:
        path = self.prepared_dir / "manifest.json"
        if not path.is_file():
            raise self.not_prepared_error()
        return json.loads(path.read_text())

    @property
    def partial(self) -> dict | None:
        manifest = self.manifest()
        if "partial" not in manifest and manifest.get("problems"):
            n = len(manifest["problems"])
            raise BenchError(
                f"{self.prepared_dir / 'manifest.json'} was prepared with {n} problem{'s' * (n != 1)} "
                "by an older harness that did not record what is missing",
                hint=f"run `bench prepare {self.name} --source ...` again (prepared clips are reused)",
            )
        return manifest.get("partial")

    def clips(self) -> list[Clip]:
        """The manifest's clips; every id is checked here, once, for every command (ids become file names)."""
        manifest = self.manifest()
        root = self.prepared_dir
        h, w = manifest["size"]
        where = str(root / "manifest.json")
        return [
            Clip(
                id=check_clip_id(c["id"], where),
                speaker=c["speaker"],
                protocol=self.id,
                n_frames=int(c["n_frames"]),
                fps=float(manifest["fps"]),
                size=(int(h), int(w)),
                sample_rate=int(manifest["sample_rate"]),
                video_path=root / c["files"]["video"],
                audio_path=root / c["files"]["audio"],
                identity_path=root / c["files"]["identity"],
                annotations_path=root / c["files"]["annotations"] if c["files"].get("annotations") else None,
                fingerprint=c["fingerprint"],
            )
            for c in manifest["clips"]
        ]


def describe_partial(protocol_id: str, partial: dict) -> str:
    """One line: how much of the split is missing and why, by kind (e.g. "2 silent-audio")."""
    kinds: dict[str, int] = {}
    for entry in partial["missing"]:
        kinds[entry["kind"]] = kinds.get(entry["kind"], 0) + 1
    why = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
    speakers = ""
    if partial.get("missing_speakers"):
        speakers = (
            f"{len(partial['missing_speakers'])} of {partial['n_speakers_expected']} speakers missing "
            f"({' '.join(partial['missing_speakers'])}); "
        )
    n_clips = partial["n_expected"] - partial["n_present"]
    return (
        f"{protocol_id} is partial: {speakers}{n_clips} of {partial['n_expected']} clips found in the source "
        f"not prepared; why: {why}"
    )


class SelfBuiltProtocol(ManifestProtocol):
    """A protocol built from what ships with the harness, no --source (mini, synthetic): `prepare` builds
    it whole in a temporary folder unless it is there; a subclass gives its clip count and its build."""

    builds_itself = True

    @abstractmethod
    def planned_clips(self) -> int:
        """How many clips a build makes."""

    @abstractmethod
    def build_clips(self, workers: int | None, progress: Callable[[str], None] | None) -> None:
        """Make every clip and the manifest in a temporary folder, then put it at `prepared_dir`."""

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
        """Build the clips unless they are there and `force` is not given; the protocol needs no source and
        fixes its own shape, so `source`, `sizes`, `split` and `alignments` are not used."""
        from protocols.prepare import PrepareInterrupted

        planned = self.planned_clips()
        if self.is_prepared() and not force:
            return PrepareReport(self.prepared_dir, planned, reused=planned)
        if on_total:
            on_total(planned)
        kept = self.is_prepared()
        try:
            self.build_clips(workers, progress)
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
