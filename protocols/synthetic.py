"""A protocol of any size for measuring the engine: N tiny generated clips, no face in them.

The engine's own costs (planning, scheduling, rows, resume, merge, reduce, reports) do not depend on
what the pixels show, so a GRID-sized job (10,000 clips) can be run end to end on one machine:
`bench prepare synthetic:10000` writes 10,000 clips of 75 frames at 64x64 with 3 s of audio, phone
timings and a truth file, in about a minute on two cores, fingerprinted like any protocol. The
shape is in the name: `synthetic:N`, `synthetic:NxFRAMES` or `synthetic:NxFRAMESxSIZE`
(`synthetic` alone is 1000 clips). Landmark metrics find no face here; PSNR, SSIM and the like score.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

import numpy as np

from benchmark.core.errors import BenchError, DatasetNotPreparedError
from benchmark.core.hashing import sha256_file, sha256_json
from protocols.base import SelfBuiltProtocol, clip_list_fingerprint
from protocols.pool import stop_pool

FPS = 25
SAMPLE_RATE = 16000
SEED = 27
DEFAULT_CLIPS, DEFAULT_FRAMES, DEFAULT_SIZE = 1000, 75, 64
MAX_CLIPS = 1_000_000
SPEAKERS = 10
CLIPS_PER_TASK = 200  # one worker task writes this many clips (a task per clip would cost more than the clip)
SHAPE = re.compile(r"^(\d+)(?:x(\d+))?(?:x(\d+))?$")
# a syllable every 0.24 s: a bilabial, a vowel, a pause (enough for the phone-reading metrics to run)
PHONE_CYCLE = (("p", 0.06), ("a", 0.12), ("_", 0.06))


def parse_shape(collection: str | None) -> tuple[int, int, int]:
    """ "N", "NxFRAMES" or "NxFRAMESxSIZE" -> (clips, frames, size); None or "" is the default shape."""
    if not collection:
        return DEFAULT_CLIPS, DEFAULT_FRAMES, DEFAULT_SIZE
    match = SHAPE.match(collection)
    if not match:
        raise BenchError(
            f"synthetic:{collection}: expected the number of clips, optionally x frames x size",
            hint="e.g. --dataset synthetic:10000 or synthetic:10000x75x64",
        )
    clips = int(match[1])
    frames = int(match[2]) if match[2] else DEFAULT_FRAMES
    size = int(match[3]) if match[3] else DEFAULT_SIZE
    if not (1 <= clips <= MAX_CLIPS and 16 <= frames <= 10_000 and 16 <= size <= 1024):
        raise BenchError(
            f"synthetic:{collection}: clips 1-{MAX_CLIPS}, frames 16-10000, size 16-1024",
            hint="e.g. synthetic:10000x75x64",
        )
    return clips, frames, size


def shape_name(clips: int, frames: int, size: int) -> str:
    """The canonical name of a shape: the clip count alone when frames and size are the defaults."""
    if (frames, size) == (DEFAULT_FRAMES, DEFAULT_SIZE):
        return str(clips)
    return f"{clips}x{frames}x{size}"


def clip_id(index: int) -> str:
    return f"syn{index:07d}"


def clip_frames(index: int, frames: int, size: int) -> np.ndarray:
    """(frames, size, size, 3) uint8: a drifting pattern whose phase and colours depend on the clip."""
    rng = np.random.default_rng([SEED, index])
    phase, speed, tint = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.3), rng.uniform(0.5, 1.0, 3)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    wave = 0.5 + 0.5 * np.sin(2 * np.pi * (3 * xx + 2 * yy) + phase + speed * t)
    image = (wave[..., None] * tint * 200 + 28 * yy[None, ..., None]).clip(0, 255)
    return image.astype(np.uint8)


def clip_audio(index: int, seconds: float) -> np.ndarray:
    """Quiet noise carrying a 4 Hz syllable rhythm."""
    rng = np.random.default_rng([SEED, index, 1])
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 2 * np.pi))
    return (0.1 * envelope * rng.standard_normal(t.size)).astype(np.float32)


def phone_timings(seconds: float) -> tuple[list[str], list[float], list[float]]:
    phones, starts, ends, t = [], [], [], 0.0
    while True:
        for phone, length in PHONE_CYCLE:
            if t + length > seconds:
                return phones, starts, ends
            phones.append(phone)
            starts.append(round(t, 6))
            ends.append(round(t + length, 6))
            t += length


def write_clips(out_dir: Path, indices: range, frames: int, size: int) -> list[dict]:
    """Write the clips `indices` under out_dir/clips/; their manifest entries (without the identity hash)."""
    from benchmark.core.media import write_video, write_wav

    seconds = frames / FPS
    phones, starts, ends = phone_timings(seconds)
    entries = []
    for index in indices:
        cid = clip_id(index)
        folder = out_dir / "clips" / cid
        files = {
            "video": f"clips/{cid}/video.mp4",
            "audio": f"clips/{cid}/audio.wav",
            "identity": "identity.png",
            "annotations": f"clips/{cid}/truth.npz",
        }
        # H.264 at x264's fastest: ~20 KB and ~15 ms a clip (lossless FFV1 of the same pattern: 240 KB, 130 ms)
        write_video(
            out_dir / files["video"], clip_frames(index, frames, size), FPS, codec="libx264", preset="ultrafast"
        )
        write_wav(out_dir / files["audio"], clip_audio(index, seconds), SAMPLE_RATE)
        np.savez(
            folder / "truth.npz",
            phones=np.asarray(phones, dtype="<U4"),
            phone_start=np.asarray(starts, dtype=np.float64),
            phone_end=np.asarray(ends, dtype=np.float64),
        )
        entries.append(
            {
                "id": cid,
                "speaker": f"s{index % SPEAKERS:02d}",
                "n_frames": frames,
                "files": files,
                "sha256": {k: sha256_file(out_dir / v) for k, v in files.items() if k != "identity"},
            }
        )
    return entries


def build(out_dir: Path, clips: int, frames: int, size: int, workers: int | None = None, progress=None) -> dict:
    """Build into a temporary folder and rename it into place: a crash never leaves half a set."""
    from benchmark.core.media import write_image

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write_image(tmp / "identity.png", clip_frames(MAX_CLIPS, 1, size)[0])  # an index no clip has
    chunks = [range(start, min(start + CLIPS_PER_TASK, clips)) for start in range(0, clips, CLIPS_PER_TASK)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(chunks)))
    entries: dict[str, dict] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(write_clips, tmp, chunk, frames, size) for chunk in chunks]
        for future in as_completed(futures):
            for entry in future.result():
                entries[entry["id"]] = entry
                if progress:
                    progress(entry["id"])
    except BaseException:  # Ctrl-C / SIGTERM or a failed chunk: nothing half-built is kept
        stop_pool(pool)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pool.shutdown()
    identity_sha = sha256_file(tmp / "identity.png")
    ordered = [entries[clip_id(i)] for i in range(clips)]
    for entry in ordered:
        entry["sha256"]["identity"] = identity_sha
        entry["fingerprint"] = sha256_json(entry["sha256"])
    manifest = {
        "protocol": "synthetic",
        "version": SyntheticProtocol.version,
        "shape": {"clips": clips, "frames": frames, "size": size},
        "fps": FPS,
        "size": [size, size],
        "sample_rate": SAMPLE_RATE,
        "seed": SEED,
        "description": SyntheticProtocol.description,
        "clips": ordered,
        "fingerprint": clip_list_fingerprint((c["id"], c["fingerprint"]) for c in ordered),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return manifest


class SyntheticProtocol(SelfBuiltProtocol):
    name = "synthetic"
    version = "v1"
    prepare_options = ("name",)
    description = (
        "N generated clips without a face (drifting patterns, noise audio, phone timings) for measuring "
        "the engine at scale: synthetic:N[xFRAMES[xSIZE]], default 1000x75x64"
    )
    identity_rule = "one generated pattern frame shared by every clip"

    def __init__(self, data_root: Path, collection: str = ""):
        super().__init__(data_root)
        self.clips_wanted, self.frames, self.size = parse_shape(collection)
        self.collection = shape_name(self.clips_wanted, self.frames, self.size)

    @classmethod
    def open(cls, data_root: Path, collection: str | None = None) -> "SyntheticProtocol":
        return cls(data_root, collection or "")

    @property
    def id(self) -> str:
        return f"synthetic:{self.collection}/{self.version}"

    @property
    def prepared_dir(self) -> Path:
        return self.data_root / self.name / self.version / self.collection

    def not_prepared_error(self) -> DatasetNotPreparedError:
        return DatasetNotPreparedError(
            f"synthetic:{self.collection} is not built yet (expected {self.prepared_dir / 'manifest.json'})",
            hint=f"run `bench prepare synthetic:{self.collection}` (about a minute per 10,000 clips on 2 cores)",
        )

    def planned_clips(self) -> int:
        return self.clips_wanted

    def build_clips(self, workers: int | None, progress: Callable[[str], None] | None) -> None:
        build(self.prepared_dir, self.clips_wanted, self.frames, self.size, workers=workers, progress=progress)
