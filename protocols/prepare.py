"""Turns a corpus as published into a prepared protocol, the same way every time (thesis §3.3.1.1):
video resampled to 25 fps by frame selection (as FFmpeg's fps filter, nearest frame), landmarks,
an FFHQ-style quad smoothed over time, square crops at the requested sizes, audio at 16 kHz
mono, and the clip's phone timings. Each clip is prepared in its own worker and marked done with
the hashes of its inputs, so a second `bench prepare` does no work and an interrupted one resumes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import Interrupted
from benchmark.core.hashing import sha256_file, sha256_json
from benchmark.core.types import PhoneEvent
from protocols.pool import stop_pool
from protocols.source_checks import SourceProblem, check_audio, check_timings

PREP_VERSION = "prep-v1"
FPS = 25
SAMPLE_RATE = 16000
MAX_AV_MISMATCH_S = 0.25
MIN_FACE_COVERAGE = 0.5
QUAD_SMOOTHING_FRAMES = 2.0


class PrepareProblem(Exception):
    """A source file that cannot be prepared; reported by name, the rest goes on."""

    def __init__(self, message: str, kind: str = "unusable-source", file: Path | None = None):
        super().__init__(f"{file}: {message}" if file else message)
        self.message, self.kind, self.file = message, kind, file


class PrepareInterrupted(Interrupted):
    """Ctrl-C or SIGTERM while clips were being prepared: says what was kept and how to resume."""

    def __init__(self, n_prepared: int, n_total: int, folder: Path, message: str | None = None):
        super().__init__(n_prepared, n_total, folder)
        self.n_prepared, self.n_total, self.folder = n_prepared, n_total, folder
        self.message = message  # a protocol's own account (one that builds all or nothing says so)

    def __str__(self) -> str:
        if self.message:
            return self.message
        return (
            f"interrupted: {self.n_prepared} of {self.n_total} clips prepared in this run and kept in {self.folder} "
            "(with those of earlier runs); the protocol's manifest is written once every clip is through. "
            "Re-run the same command to resume: prepared clips are reused."
        )


@dataclass(frozen=True)
class Problem:
    """Why a speaker or clip of the split is not in the prepared protocol (`clip` None: the whole speaker)."""

    file: str  # the file or folder at fault
    message: str
    kind: str  # short category, e.g. "missing-speaker", "silent-audio"
    speaker: str | None = None
    clip: str | None = None

    def missing(self) -> dict:
        """The manifest's (and the run record's) entry for what is missing and why."""
        where = {"clip": self.clip, "speaker": self.speaker} if self.clip else {"speaker": self.speaker}
        return {**where, "kind": self.kind, "reason": f"{self.file}: {self.message}"}


@dataclass(frozen=True)
class SourceClip:
    clip_id: str
    speaker: str
    video: Path
    audio: Path | None  # None: the video's own audio track
    phones: tuple[PhoneEvent, ...]
    labels: Path | None = None  # the file the phone timings came from (named when they do not fit the audio)
    first_seconds: float | None = None  # only this much of the source is the clip (e.g. HDTF's first 15 s)

    @property
    def inputs(self) -> list[Path]:
        return [self.video] + ([self.audio] if self.audio else [])


def resample_indices(n_frames: int, fps: float, target: float = FPS) -> np.ndarray:
    """Source frame shown at each output time k/target (FFmpeg fps filter, round to nearest)."""
    duration = n_frames / fps
    n_out = int(round(duration * target))
    return np.clip(np.round(np.arange(n_out) * fps / target).astype(int), 0, n_frames - 1)


def landmark_backend(landmarks: str, weights_dir: Path | None = None):
    """The detector that aligns the crops, from the shared keyed factory; preparation runs on the CPU."""
    from benchmark.perception.registry import get_landmark_backend

    return get_landmark_backend(landmarks, "cpu", weights_dir)


def prepare_clip(
    src: SourceClip,
    out_dir: Path,
    sizes: tuple[int, ...],
    landmarks: str = "mediapipe",
    weights_dir: Path | None = None,
) -> dict:
    """Prepare one clip into out_dir; returns its manifest entry (paths relative to out_dir's parent's parent)."""
    from benchmark.core.media import (
        MediaError,
        read_audio,
        read_video,
        resample_audio,
        write_image,
        write_video,
        write_wav,
    )
    from protocols.alignment import ffhq_quad, smooth_quads, warp_to_square

    try:
        video = read_video(src.video, max_seconds=src.first_seconds)
        audio, rate = read_audio(src.audio or src.video)
    except MediaError as exc:
        raise PrepareProblem(str(exc), "unreadable-media") from exc
    if src.first_seconds is not None:
        audio = audio[: int(round(src.first_seconds * rate))]
    frames = video.frames[resample_indices(video.n_frames, video.fps)]
    video_seconds, audio_seconds = video.n_frames / video.fps, audio.size / rate
    if abs(video_seconds - audio_seconds) > MAX_AV_MISMATCH_S:
        raise PrepareProblem(
            f"audio/video length mismatch ({audio_seconds:.2f} s audio vs {video_seconds:.2f} s video)",
            "av-mismatch",
            src.audio or src.video,
        )
    audio16 = resample_audio(audio, rate, SAMPLE_RATE).astype(np.float32)
    n_samples = int(round(len(frames) / FPS * SAMPLE_RATE))
    audio16 = np.pad(audio16, (0, max(0, n_samples - audio16.size)))[:n_samples]

    detector = landmark_backend(landmarks, weights_dir)
    track = detector.detect(frames)
    if track.coverage < MIN_FACE_COVERAGE:
        raise PrepareProblem(
            f"a face was found in only {track.found.sum()} of {len(frames)} frames", "no-face", src.video
        )
    quads = np.zeros((len(frames), 4, 2))
    quads[track.found] = [ffhq_quad(p.astype(np.float64)) for p in track.points[track.found]]
    quads = smooth_quads(quads, track.found, QUAD_SMOOTHING_FRAMES)

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for size in sizes:
        aligned = np.stack([warp_to_square(f, q, size) for f, q in zip(frames, quads)])
        write_video(out_dir / f"video_{size}.mkv", aligned, FPS, codec="ffv1")
        write_image(out_dir / f"identity_{size}.png", aligned[0])
        files[f"video_{size}"], files[f"identity_{size}"] = f"video_{size}.mkv", f"identity_{size}.png"
    write_wav(out_dir / "audio.wav", audio16, SAMPLE_RATE)
    phones = [p for p in src.phones if src.first_seconds is None or p.start < src.first_seconds]
    np.savez(
        out_dir / "truth.npz",
        phones=np.asarray([p.phone for p in phones], dtype="<U8"),
        phone_start=np.asarray([p.start for p in phones], dtype=np.float64),
        phone_end=np.asarray([min(p.end, len(frames) / FPS) for p in phones], dtype=np.float64),
        source_landmarks=track.points,
        source_quads=quads.astype(np.float32),
    )
    files["audio"], files["annotations"] = "audio.wav", "truth.npz"
    return {
        "id": src.clip_id,
        "speaker": src.speaker,
        "n_frames": len(frames),
        "source_fps": video.fps,
        "first_seconds": src.first_seconds,
        "face_coverage": track.coverage,
        "files": files,
        "landmarks": detector.version(),
        "sha256": {k: sha256_file(out_dir / v) for k, v in files.items()},
    }


def _input_key(src: SourceClip, sizes, landmarks: str) -> str:
    """`landmarks` is the detector's version: a new one moves the crops, so the clip is prepared again."""
    return sha256_json(
        {
            "inputs": [sha256_file(p) for p in src.inputs],
            "phones": [[p.phone, p.start, p.end] for p in src.phones],
            "sizes": list(sizes),
            "landmarks": landmarks,
            "version": PREP_VERSION,
            **({"first_seconds": src.first_seconds} if src.first_seconds is not None else {}),
        }
    )


def check_source(src: SourceClip) -> None:
    """The cheap checks on a clip's audio and labels, run before reuse too (a clip prepared by an
    older harness is checked again): silent or clipped audio, labels that do not fit the audio."""
    from benchmark.core.media import MediaError, read_audio

    path = src.audio or src.video
    try:
        audio, rate = read_audio(path)
    except MediaError as exc:
        raise PrepareProblem(str(exc).removeprefix(f"{path}: "), "unreadable-media", path) from exc
    try:
        check_audio(audio)
    except SourceProblem as exc:
        raise PrepareProblem(str(exc), exc.kind, path) from exc
    if not src.phones and src.labels is None:
        return  # no alignment given at all (a videos protocol without --alignments): nothing to check
    try:
        check_timings([(p.start, p.end, p.phone) for p in src.phones], audio.size / rate)
    except SourceProblem as exc:
        shared = src.labels is not None and src.labels.stem != src.video.stem  # one label file for many clips
        raise PrepareProblem(f"{src.clip_id}: {exc}" if shared else str(exc), exc.kind, src.labels or path) from exc


def _prepare_one(src: SourceClip, clip_dir: Path, sizes, landmarks, weights_dir=None) -> dict:
    check_source(src)
    marker = clip_dir / "done.json"
    key = _input_key(src, sizes, landmark_backend(landmarks, weights_dir).version())
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("key") == key:
            return {**done["entry"], "reused": True}
    entry = prepare_clip(src, clip_dir, sizes, landmarks, weights_dir)
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "entry": entry}, indent=1))
    tmp.replace(marker)
    return {**entry, "reused": False}


def prepare_clips(
    sources: list[SourceClip],
    clips_root: Path,
    sizes=(256,),
    landmarks="mediapipe",
    workers: int | None = None,
    progress=None,
    weights_dir: Path | None = None,
) -> tuple[list[dict], list[Problem]]:
    """Prepare every source clip (in parallel); returns (entries, a Problem for each clip left out)."""
    entries, problems = [], []
    workers = workers or min(len(sources), os.cpu_count() or 1) or 1
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
    try:
        futures = {
            pool.submit(_prepare_one, s, clips_root / s.speaker / s.clip_id, tuple(sizes), landmarks, weights_dir): s
            for s in sources
        }
        for future in as_completed(futures):
            src = futures[future]
            try:
                entries.append(future.result())
            except PrepareProblem as exc:
                file = str(exc.file or src.video)
                problems.append(
                    Problem(
                        file,
                        exc.message if exc.file else _without_prefix(str(exc), file),
                        exc.kind,
                        src.speaker,
                        src.clip_id,
                    )
                )
            except Exception as exc:  # one bad file must not stop the corpus
                problems.append(
                    Problem(str(src.video), f"{type(exc).__name__}: {exc}", "error", src.speaker, src.clip_id)
                )
            if progress:
                progress(src.clip_id)
    except (
        BaseException
    ) as exc:  # Ctrl-C, or SIGTERM turned into one by the CLI: queued clips are dropped, not waited for
        stop_pool(pool)
        if isinstance(exc, KeyboardInterrupt):
            raise PrepareInterrupted(len(entries), len(sources), clips_root) from None
        raise
    pool.shutdown()
    order = {s.clip_id: i for i, s in enumerate(sources)}
    entries.sort(key=lambda e: order[e["id"]])
    problems.sort(key=lambda p: order[p.clip])
    return entries, problems


def _without_prefix(message: str, file: str) -> str:
    """Messages name their file; the Problem names it once."""
    return message[len(file) + 2 :] if message.startswith(file + ": ") else message
