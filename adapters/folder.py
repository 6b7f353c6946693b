"""`folder`: scores videos made elsewhere, one file per clip id (`<clip id>.<ext>`) in a directory.

A missing, unreadable or unusable file fails that clip with its reason; the other clips are still
scored. Nothing is read when the adapter is built: each clip's own file is found (the extension in
any case, `X.MP4` too), checked to be a regular file (a FIFO, device or directory is never opened)
no larger than the clip's uncompressed frames allow, and hashed when that clip is planned. The hash
goes into that clip's row key, so replacing or adding one file re-scores that clip only.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from adapters.base import Adapter, Capabilities
from adapters.conform import CONFORM_ARGS, ConformPolicy, read_conformed
from benchmark.core.errors import BenchError, ClipError
from benchmark.core.media import MediaError, VideoMismatch
from benchmark.core.types import Clip, GenerationRequest, Video

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".webm")
# a video file bigger than this many times the clip's uncompressed RGB frames (plus the slack) is not
# that clip: it is refused before it is read (rgb24 or bgra raw video fits, so does lossless FFV1)
MAX_FILE_FACTOR, MAX_FILE_SLACK = 2.0, 16 << 20
MAX_RESIZE_AREA = 16  # with resize=, a file may hold frames up to 16x the clip's area (4x each side)
_CHUNK = 1 << 20


class FolderAdapter(Adapter):
    name = "folder"
    description = (
        "Pre-generated videos: --model-args dir=PATH holding <clip id>.mp4 (or .mkv .avi .mov .mpg .webm); "
        "resize=lanczos, fps=nearest (also a variable frame rate), max_length_diff=K (default 2), "
        "video_stream=N conform them, recorded per clip (a rotation is applied, as players do)"
    )
    capabilities = Capabilities(uses_audio=False, uses_identity=False, uses_reference_frames=False)
    external = True
    accepted_args = ("dir", *CONFORM_ARGS)
    frames_depend_on_threads = False  # decoded from files made elsewhere

    def __init__(self, dir: str | None = None, **config):
        if not dir:
            raise BenchError(
                "the folder adapter needs the directory of videos", hint="--model-args dir=/path/to/videos"
            )
        self.root = Path(dir).expanduser().resolve()
        if not self.root.is_dir():
            raise BenchError(f"folder adapter: {self.root} is not a directory", hint="--model-args dir=/path/to/videos")
        super().__init__(dir=str(self.root), **config)
        self.conform = ConformPolicy.from_config(self.name, config)
        self._names: dict[str, list[str]] | None = None  # clip id -> file names, listed on first use
        self._hashes: dict[tuple, dict] = {}  # (path, device, inode, size, mtime) -> its clip_input

    # ---- finding a clip's file ------------------------------------------------------------

    def _listing(self) -> dict[str, list[str]]:
        if self._names is None:
            try:
                names = sorted(os.listdir(self.root))
            except OSError as exc:
                raise ClipError(
                    "generate", f"{self.root}: cannot be listed ({exc.strerror}); fix its permissions"
                ) from None
            self._names = {}
            for name in names:
                stem, ext = os.path.splitext(name)
                if ext.lower() in VIDEO_EXTENSIONS:
                    self._names.setdefault(stem, []).append(name)
        return self._names

    def default_label(self) -> str:
        return self.root.name  # the videos' folder says more about the model than "folder" does

    def describe(self) -> dict:
        return {**super().describe(), "conform": self.conform.describe()}

    def video_path(self, clip_id: str) -> Path:
        """The clip's one video file, checked to be a regular file; a ClipError saying what to fix otherwise."""
        listing = self._listing()
        names = listing.get(clip_id, [])
        if not names:
            near = [n for stem, found in listing.items() if stem.lower() == clip_id.lower() for n in found]
            hint = (
                f"; found {near[0]}, named in another case: rename it to {clip_id}{os.path.splitext(near[0])[1]}"
                if near
                else ""
            )
            raise ClipError(
                "generate",
                f"missing video: no {clip_id}.mp4 (or {', '.join(VIDEO_EXTENSIONS[1:])}) in {self.root}{hint}",
            )
        if len(names) > 1:
            why = "differ only by case" if len({n.lower() for n in names}) == 1 else "are all videos of this clip"
            raise ClipError("generate", f"ambiguous: {', '.join(names)} in {self.root} {why}; keep one")
        path = self.root / names[0]
        _check_regular_file(path)
        return path

    # ---- per-clip content ---------------------------------------------------------------------

    def clip_input(self, clip: Clip) -> dict:
        """{file, bytes, sha256} of the clip's video, or {problem} when it cannot be used (generate says why)."""
        try:
            path = self.video_path(clip.id)
            info = os.stat(path)
            limit = max_file_bytes(clip, MAX_RESIZE_AREA if self.conform.resize else 1)
            if info.st_size > limit:
                raise ClipError(
                    "generate",
                    f"{path}: {info.st_size / 1e6:.1f} MB, more than the {limit / 1e6:.1f} MB "
                    f"allowed for {clip.n_frames} frames of {clip.size[0]}x{clip.size[1]}; "
                    "is it this clip's video? Encode the clip's frames (e.g. H.264 or FFV1)",
                )
            cache = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            if cache not in self._hashes:
                self._hashes[cache] = {
                    "file": path.name,
                    "bytes": info.st_size,
                    "sha256": _sha256_regular(path, info.st_size),
                }
            return self._hashes[cache]
        except ClipError as exc:
            return {"problem": exc.message}

    def inspect_clip(self, clip: Clip) -> dict:
        """Check the clip's file as scoring would read it (found, decodes, size, rate, length), scoring nothing.

        {"clip_id", "file", "status": ok | conformed | failed, "conformed": what will be done, "problem"}.
        """
        out: dict = {"clip_id": clip.id, "file": self.clip_input(clip).get("file")}
        try:
            video = self._checked_read(clip, clip.n_frames, clip.size, clip.fps)
        except ClipError as exc:
            return {**out, "status": "failed", "problem": exc.message}
        return {**out, "status": "conformed" if video.conformed else "ok", "conformed": video.conformed}

    def _read(self, path: Path, n_frames: int, size: tuple[int, int], fps: float) -> Video:
        try:
            return read_conformed(path, n_frames, size, fps, self.conform)
        except VideoMismatch as exc:
            raise ClipError("generate", f"unusable video: {exc}") from exc
        except MediaError as exc:
            raise ClipError("generate", f"corrupt video: {exc}") from exc

    def _checked_read(self, clip: Clip, n_frames: int, size: tuple[int, int], fps: float) -> Video:
        """The clip's file (found, checked and hashed by clip_input) read and conformed to the request."""
        found = self.clip_input(clip)
        if "problem" in found:
            raise ClipError("generate", found["problem"])
        return self._read(self.root / found["file"], n_frames, size, fps)

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        return self._checked_read(request.clip, request.n_frames, request.size, request.fps)


def max_file_bytes(clip: Clip, area_factor: float = 1) -> int:
    return int(MAX_FILE_FACTOR * area_factor * clip.n_frames * clip.size[0] * clip.size[1] * 3) + MAX_FILE_SLACK


def _check_regular_file(path: Path) -> None:
    """stat (never open) the entry: only a regular file, or a link to one, is a video to read."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        target = os.readlink(path) if os.path.islink(path) else "?"
        raise ClipError(
            "generate", f"{path}: a broken symlink (to {target}); point it at the video or replace it with the file"
        ) from None
    except OSError as exc:
        raise ClipError("generate", f"{path}: cannot be read ({exc.strerror}); fix its permissions") from None
    if stat.S_ISDIR(mode):
        raise ClipError("generate", f"{path}: a directory, not a video file; put the clip's video there instead")
    if not stat.S_ISREG(mode):
        raise ClipError(
            "generate",
            f"{path}: not a regular file (a FIFO, socket or device); copy the video into the folder as a file",
        )


def _sha256_regular(path: Path, size: int) -> str:
    """sha256 of at most `size` bytes; opened non-blocking and re-checked, so a swapped-in FIFO cannot hang it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise ClipError("generate", f"{path}: cannot be read ({exc.strerror}); fix its permissions") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ClipError(
                "generate",
                f"{path}: not a regular file (a FIFO, socket or device); copy the video into the folder as a file",
            )
        h, left = hashlib.sha256(), size
        while left > 0 and (block := f.read(min(_CHUNK, left))):
            h.update(block)
            left -= len(block)
    return h.hexdigest()
