"""`folder`: scores videos made elsewhere, one file per clip id (`<clip id>.<ext>`) in a directory.

A missing or unreadable file fails that clip with its reason; the other clips are still scored.
"""

from __future__ import annotations

from pathlib import Path

from adapters.base import Adapter, Capabilities
from benchmark.errors import BenchError, ClipError
from benchmark.fingerprint import sha256_file, sha256_json
from benchmark.media import MediaError, read_video
from benchmark.types import GenerationRequest, Video

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".avi", ".mov", ".mpg", ".webm")


class FolderAdapter(Adapter):
    name = "folder"
    description = "Pre-generated videos: --model-args dir=PATH holding <clip id>.mp4 (or .mkv .avi .mov .mpg .webm)"
    capabilities = Capabilities(uses_audio=False, uses_identity=False, uses_reference_frames=False)
    external = True

    def __init__(self, dir: str | None = None, **config):
        if not dir:
            raise BenchError("the folder adapter needs the directory of videos", hint="--model-args dir=/path/to/videos")
        self.root = Path(dir).expanduser().resolve()
        if not self.root.is_dir():
            raise BenchError(f"folder adapter: {self.root} is not a directory", hint="--model-args dir=/path/to/videos")
        super().__init__(dir=str(self.root), **config)
        self._content = sha256_json(
            {p.name: sha256_file(p) for p in sorted(self.root.iterdir()) if p.suffix.lower() in VIDEO_EXTENSIONS}
        )

    def fingerprint(self) -> str:
        # the videos are the "weights": replacing one must not reuse old scores
        return sha256_json({"adapter": super().fingerprint(), "videos": self._content})

    def default_label(self) -> str:
        return self.root.name  # the videos' folder says more about the model than "folder" does

    def video_path(self, clip_id: str) -> Path:
        found = [self.root / f"{clip_id}{ext}" for ext in VIDEO_EXTENSIONS if (self.root / f"{clip_id}{ext}").is_file()]
        if not found:
            raise ClipError("generate", f"missing video: no {clip_id}.mp4 (or {', '.join(VIDEO_EXTENSIONS[1:])}) in {self.root}")
        if len(found) > 1:
            raise ClipError("generate", f"ambiguous: several videos for {clip_id} in {self.root}: {[p.name for p in found]}")
        return found[0]

    def generate(self, request: GenerationRequest, seed: int) -> Video:
        path = self.video_path(request.clip.id)
        try:
            video = read_video(path)
        except MediaError as exc:
            raise ClipError("generate", f"corrupt video: {exc}") from exc
        if abs(video.fps - request.fps) > 1e-3:
            raise ClipError("generate", f"{path}: {video.fps:g} fps but the protocol is {request.fps:g} fps; resample it to {request.fps:g} fps")
        return video
