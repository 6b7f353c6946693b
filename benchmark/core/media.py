"""Reading and writing frames, audio and images. Every failure names the file."""

from __future__ import annotations

import itertools
import shutil
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmark.core.video import Video


class MediaError(ValueError):
    """A media file that cannot be read as what it claims to be."""


# A file may hold a few frames more than its clip (validation then names the exact count); beyond
# this margin it is refused from its metadata, or once decoding passes it, so memory stays one clip.
FRAME_MARGIN_FRACTION, FRAME_MARGIN_MIN = 0.10, 5


class VideoMismatch(MediaError):
    """A readable video that cannot stand for its clip (length, size, rate, transparency)."""


class AmbiguousVideoStreams(VideoMismatch):
    """A file with more than one video stream: which one is the clip is not for the reader to guess."""


def frame_limit(n_frames: int) -> int:
    """The most frames decoded for a clip of `n_frames`: the clip plus the margin."""
    return n_frames + max(FRAME_MARGIN_MIN, int(np.ceil(FRAME_MARGIN_FRACTION * n_frames)))


# name -> (PIL filter, the label recorded beside every resized clip)
RESIZE_FILTERS = {
    "lanczos": ("LANCZOS", "PIL Lanczos"),
    "bicubic": ("BICUBIC", "PIL bicubic"),
    "bilinear": ("BILINEAR", "PIL bilinear"),
    "area": ("BOX", "PIL box (area)"),
    "nearest": ("NEAREST", "PIL nearest"),
}


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about its video stream; `probe_video` decodes one frame for the rotation."""

    height: int  # as displayed: the coded size turned by `rotation`
    width: int
    fps: float
    declared_frames: int  # 0 when the container does not say (estimated from the duration where it can)
    rotation: int = 0  # degrees counterclockwise from the display matrix (0, 90, 180, -90), applied on reading
    stream: int = 0  # which video stream (FFmpeg's 0:v:N)
    video_streams: int = 1  # how many the file holds (a cover picture not counted)

    @property
    def coded_size(self) -> tuple[int, int]:
        return (self.width, self.height) if self.rotation % 180 else (self.height, self.width)


@dataclass(frozen=True)
class FrameTimes:
    """When each decoded frame is shown (seconds, exact rationals) and when the last one ends."""

    starts: tuple[Fraction, ...]
    end: Fraction | None  # None when the last frame has no duration


def resize_frame(image: np.ndarray, size: tuple[int, int], filter: str = "lanczos") -> np.ndarray:
    """(H, W, 3) uint8 -> `size` (H, W) with the named PIL filter (see RESIZE_FILTERS)."""
    from PIL import Image

    if tuple(image.shape[:2]) == tuple(size):
        return image
    pil_filter = getattr(Image.Resampling, RESIZE_FILTERS[filter][0])
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size[1], size[0]), pil_filter))


def probe_video(path: str | Path, stream: int | None = None) -> VideoInfo:
    """Frame size (as displayed), rate, declared length and rotation of `path`'s video stream (FFmpeg's
    0:v:`stream`; the only one when None); MediaError naming the file otherwise.

    The first frame is decoded: the display matrix (a phone's rotation) travels with the frames."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    try:
        with av.open(str(path)) as container:
            info = _stream_info(path, container, stream)
            first = next(container.decode(container.streams.video[info.stream]), None)
            if first is None:
                return info
            turns = _quarter_turns(path, first)
            return _rotated(info, turns)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise MediaError(f"{path}: unreadable video ({type(exc).__name__}: {exc})") from exc


def read_video(
    path: str | Path,
    n_frames: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    resize_to: tuple[int, int] | None = None,
    resize_filter: str = "lanczos",
    extra_frames: int = 0,
    max_seconds: float | None = None,
    stream: int | None = None,
) -> Video:
    """Decode `path` to RGB uint8, checking what the caller expects before the pixels fill memory.

    With `n_frames`, `size` (H, W) or `fps` given, the stream's metadata is checked first and a file
    of another frame size or rate, or longer than `frame_limit(n_frames)`, is refused with a
    VideoMismatch naming the file and the fix; decoding stops past that limit. Frames with an alpha
    channel must be opaque: transparent pixels would be scored as if visible, so they are refused.
    A display matrix (a phone's 90° rotation) is applied as players apply it, so `size` is the size
    as displayed; a mirroring or non-right-angle one is refused. A file with two video streams is
    refused naming them unless `stream` (FFmpeg's 0:v:N) picks one; a cover picture does not count.
    `resize_to` resizes each frame as it is decoded, so a 1080p file costs one clip at `resize_to`;
    `extra_frames` widens the limit for a file that is conformed afterwards (another rate, a trim).
    `max_seconds` keeps only the frames that start before that time (a long source cut to its clip):
    decoding stops there, so a ten-minute source costs only what is kept.
    """
    return read_video_timed(path, n_frames, size, fps, resize_to, resize_filter, extra_frames, max_seconds, stream)[0]


def read_video_timed(
    path: str | Path,
    n_frames: int | None = None,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    resize_to: tuple[int, int] | None = None,
    resize_filter: str = "lanczos",
    extra_frames: int = 0,
    max_seconds: float | None = None,
    stream: int | None = None,
) -> tuple[Video, FrameTimes | None]:
    """`read_video` and when each frame is shown (None when a frame has no timestamp): frames are
    decoded in order, but a variable-frame-rate file only plays right placed by these times."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    limit = frame_limit(n_frames) + max(0, extra_frames) if n_frames is not None else None
    times: list = []
    try:
        with av.open(str(path)) as container:
            info = _stream_info(path, container, stream)
            _check_metadata(path, info, n_frames, limit, size, fps)
            video_stream = container.streams.video[info.stream]
            alpha = _has_alpha(video_stream.codec_context.pix_fmt)
            fit = (lambda image: resize_frame(image, resize_to, resize_filter)) if resize_to else None
            decoded = container.decode(video_stream)
            if max_seconds is not None:
                decoded = itertools.islice(decoded, max(1, int(round(max_seconds * info.fps))))
            frames = _decode(path, decoded, limit, n_frames, alpha, fit, size=size, times=times)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise MediaError(f"{path}: unreadable video ({type(exc).__name__}: {exc})") from exc
    if not len(frames):
        raise MediaError(f"{path}: contains no decodable frames")
    timed = (
        None
        if not times or any(t is None for t in times)
        else FrameTimes(tuple(start for start, _ in times), times[-1][0] + times[-1][1] if times[-1][1] else None)
    )
    return Video(frames, info.fps), timed


def _stream_info(path: Path, container, index: int | None = None) -> VideoInfo:
    streams = list(container.streams.video)
    pictures = [i for i, s in enumerate(streams) if _is_cover_picture(s)]
    moving = [i for i in range(len(streams)) if i not in pictures]
    if not streams or (index is None and not moving):
        raise MediaError(f"{path}: has no video stream" + (" (only a cover picture)" if streams else ""))
    if index is not None and not 0 <= index < len(streams):
        raise VideoMismatch(f"{path}: no video stream {index}; it has {_describe_streams(streams)}")
    if index is None and len(moving) > 1:
        raise AmbiguousVideoStreams(
            f"{path}: {len(moving)} video streams ({_describe_streams(streams)}) and which one is the clip is not "
            f"known; keep only the clip's (e.g. ffmpeg -i {path.name} -map 0:v:N -map 0:a? -c copy out{path.suffix})"
        )
    stream = streams[moving[0] if index is None else index]
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    declared = int(stream.frames or 0)  # Matroska has no count: estimate it from the duration
    if not declared and stream.duration and stream.time_base:
        declared = int(float(stream.duration * stream.time_base) * rate)
    elif not declared and container.duration and len(container.streams) == 1:  # else audio may be longer
        declared = int(container.duration / 1_000_000 * rate)  # AV_TIME_BASE units
    return VideoInfo(
        stream.codec_context.height,
        stream.codec_context.width,
        rate,
        declared,
        stream=streams.index(stream),
        video_streams=len(moving),
    )


def _is_cover_picture(stream) -> bool:
    import av

    return bool(int(stream.disposition) & int(av.stream.Disposition.attached_pic))


def _describe_streams(streams) -> str:
    def one(i, s):
        rate = float(s.average_rate or s.guessed_rate or 0)
        cover = ", cover picture" if _is_cover_picture(s) else ""
        return f"0:v:{i} {s.codec_context.name} {s.codec_context.width}x{s.codec_context.height} {rate:g} fps{cover}"

    return "; ".join(one(i, s) for i, s in enumerate(streams))


def _quarter_turns(path: Path, frame) -> int:
    """Counterclockwise quarter turns the frame's display matrix asks for (players apply them; so do we).

    A mirroring matrix or an angle that is not a right angle is refused: scores of a half-applied
    transform would be silently wrong."""
    matrix = next(
        (bytes(sd) for sd in getattr(frame, "side_data", ()) if getattr(sd.type, "name", "") == "DISPLAYMATRIX"), None
    )
    if matrix is None or len(matrix) != 36:
        return 0
    m = np.frombuffer(matrix, "<i4").astype(np.float64)
    if m[0] * m[4] - m[1] * m[3] < 0:  # negative determinant of the 2x2 part: a mirror
        raise VideoMismatch(
            f"{path}: its display matrix mirrors the picture, which is not applied here; "
            "re-encode it with the transform applied (ffmpeg applies it by default: ffmpeg -i IN OUT)"
        )
    degrees = float(frame.rotation)  # PyAV: counterclockwise, as ffprobe's "displaymatrix: rotation of" line
    turns = round(degrees / 90)
    if abs(degrees - 90 * turns) > 0.5:
        raise VideoMismatch(
            f"{path}: its display matrix rotates the picture by {degrees:g}°, not a right angle; "
            "re-encode it with the rotation applied (ffmpeg -i IN OUT applies it)"
        )
    return turns % 4


def _rotated(info: VideoInfo, turns: int) -> VideoInfo:
    """`info` for frames turned by `turns` quarter turns counterclockwise (the size as displayed)."""
    h, w = (info.width, info.height) if turns % 2 else (info.height, info.width)
    return VideoInfo(
        h, w, info.fps, info.declared_frames, {0: 0, 1: 90, 2: 180, 3: -90}[turns], info.stream, info.video_streams
    )


def _size_mismatch(path: Path, found: tuple[int, int], size, rotation: int = 0) -> VideoMismatch:
    turned = f" as displayed (its display matrix rotates it {rotation}°)" if rotation else ""
    return VideoMismatch(
        f"{path}: frames are {found[0]}x{found[1]} (HxW){turned}, the clip's are {size[0]}x{size[1]}; "
        f"resize the video to {size[1]}x{size[0]} (width x height)"
    )


def _check_metadata(path: Path, info: VideoInfo, n_frames, limit, size, fps) -> None:
    # a rotated file's coded size is the clip's turned: the first frame's display matrix decides
    if size is not None and (info.height, info.width) not in (tuple(size), tuple(size)[::-1]):
        raise _size_mismatch(path, (info.height, info.width), size)
    if fps is not None and abs(info.fps - fps) > 1e-3:
        raise VideoMismatch(f"{path}: {info.fps:g} fps but the protocol is {fps:g} fps; resample it to {fps:g} fps")
    if limit is not None and info.declared_frames > limit:
        raise VideoMismatch(
            f"{path}: {info.declared_frames} frames, the clip has {n_frames}; cut it to the clip's {n_frames} frames"
        )


def _has_alpha(pix_fmt: str | None) -> bool:
    import av

    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except (TypeError, ValueError):
        return False


def _decode(
    path: Path,
    frames,
    limit: int | None,
    n_frames: int | None,
    alpha: bool,
    fit=None,
    size: tuple[int, int] | None = None,
    times: list | None = None,
) -> np.ndarray:
    """Decoded frames, never more than `limit`, into one buffer (no second copy); opaque alpha dropped,
    the display matrix applied, the first frame checked against `size` (as displayed), and each
    frame's (start, duration) in seconds appended to `times` (None where it has no timestamp).

    One reformatter for the whole video: `frame.to_ndarray(format=...)` builds a new colour converter
    for every frame, ~8 ms each whatever the frame size (most of the time a small clip takes to read)."""
    from av.video.reformatter import VideoReformatter

    reformatter = VideoReformatter()
    out: list[np.ndarray] = []
    buffer, count, turns = None, 0, None
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            raise VideoMismatch(
                f"{path}: more than {limit} frames, the clip has {n_frames}; cut it to the clip's {n_frames} frames"
            )
        if alpha:
            rgba = reformatter.reformat(frame, format="rgba").to_ndarray()
            if rgba[..., 3].min() < 255:
                raise VideoMismatch(
                    f"{path}: frame {i} has transparent pixels (alpha < 255), which scores would "
                    "ignore; flatten the video onto an opaque background and encode it without alpha"
                )
            image = rgba[..., :3]
        else:
            image = reformatter.reformat(frame, format="rgb24").to_ndarray()
        frame_turns = _quarter_turns(path, frame)
        if turns is None:
            turns = frame_turns
            shown = image.shape[1::-1] if turns % 2 else image.shape[:2]
            if size is not None and tuple(shown) != tuple(size):
                raise _size_mismatch(path, tuple(shown), size, {0: 0, 1: 90, 2: 180, 3: -90}[turns])
        elif frame_turns != turns:
            raise VideoMismatch(
                f"{path}: frame {i}'s display matrix turns it {90 * frame_turns}°, frame 0's "
                f"{90 * turns}°; re-encode it with the rotation applied (ffmpeg -i IN OUT applies it)"
            )
        if turns:
            image = np.rot90(image, turns)
        if times is not None:
            times.append(_frame_time(frame))
        if fit is not None:
            image = fit(image)
        if limit is None:
            out.append(np.ascontiguousarray(image))
            continue
        if buffer is None:  # untouched pages of the margin cost no memory
            buffer = np.empty((limit, *image.shape), np.uint8)
        buffer[i] = image
        count = i + 1
    if buffer is not None:
        return buffer[:count]
    return np.stack(out) if out else np.zeros((0, 0, 0, 3), np.uint8)


def _frame_time(frame) -> tuple[Fraction, Fraction] | None:
    """(start, duration) of a decoded frame in seconds, exactly; None without a timestamp."""
    pts, base = getattr(frame, "pts", None), getattr(frame, "time_base", None)
    if pts is None or not base:
        return None
    return Fraction(pts) * base, Fraction(max(0, getattr(frame, "duration", 0) or 0)) * base


def write_video(path: str | Path, frames, fps: float, codec: str = "ffv1", preset: str | None = None) -> None:
    """Encode (T, H, W, 3) uint8 RGB, or any iterable of (H, W, 3) frames (encoded as they come, so a
    long large video never sits in memory whole). `ffv1` is lossless and byte-deterministic;
    `libx264` for mp4 (`preset`: x264's speed preset, e.g. "ultrafast"; its default otherwise)."""
    import av
    import av.codec.context

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pix_fmt = {"ffv1": "bgr0", "libx264rgb": "rgb24"}.get(codec, "yuv420p")
    rate = Fraction(fps).limit_denominator(1001)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise MediaError(f"{path}: no frames to write")
    with av.open(str(path), "w", options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.height, stream.width = first.shape[0], first.shape[1]
        stream.pix_fmt = pix_fmt
        stream.codec_context.flags |= int(av.codec.context.Flags.bitexact)
        if codec == "libx264":
            stream.options = {"threads": "1", **({"preset": preset} if preset else {})}
        for image in itertools.chain([first], frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """16-bit PCM wav -> float32 mono in [-1, 1] and its sample rate."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            raw = w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        raise MediaError(f"{path}: unreadable wav ({exc})") from exc
    if width != 2:
        raise MediaError(f"{path}: expected 16-bit PCM, found {8 * width}-bit")
    audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    return audio.reshape(-1, channels).mean(axis=1), rate


def write_wav(path: str | Path, audio: np.ndarray, rate: int) -> None:
    """float mono in [-1, 1] -> 16-bit PCM wav."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def read_image(path: str | Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except OSError as exc:
        raise MediaError(f"{path}: unreadable image ({exc})") from exc


def write_image(path: str | Path, image: np.ndarray) -> None:
    from PIL import Image

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG", optimize=False)


def read_audio(path: str | Path) -> tuple[np.ndarray, int]:
    """Any audio (wav, or the audio track of a video) -> float32 mono in [-1, 1] and its rate."""
    import av

    path = Path(path)
    if path.suffix.lower() == ".wav":
        try:
            return read_wav(path)
        except MediaError:
            pass  # not 16-bit PCM: let FFmpeg decode it
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise MediaError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            rate = stream.rate
            chunks = []
            for frame in container.decode(stream):
                data = frame.to_ndarray().astype(np.float32)
                if frame.format.name in ("s16", "s16p"):
                    data /= 32768.0
                elif frame.format.name in ("s32", "s32p"):
                    data /= 2147483648.0
                chunks.append(
                    data.mean(axis=0)
                    if frame.format.is_planar
                    else data.reshape(-1, len(frame.layout.channels)).mean(1)
                )
    except MediaError:
        raise
    except Exception as exc:
        raise MediaError(f"{path}: unreadable audio ({type(exc).__name__}: {exc})") from exc
    if not chunks:
        raise MediaError(f"{path}: contains no decodable audio")
    return np.concatenate(chunks).astype(np.float32), rate


def resample_audio(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono audio at `rate` -> float64 at `target` (polyphase, scipy); unchanged when the rates match."""
    audio = np.asarray(audio, dtype=np.float64)
    if rate == target:
        return audio
    from scipy.signal import resample_poly

    g = int(np.gcd(int(rate), int(target)))
    return resample_poly(audio, target // g, rate // g)


MODEL_IDENTITY, MODEL_AUDIO = "identity.png", "audio.wav"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_model_inputs(
    folder: str | Path, identity_path: str | Path, audio_path: str | Path, audio_rate: int | None = None
) -> tuple[Path, Path, int]:
    """A clip's identity image and speech as files for a model outside the harness: (identity, audio, rate).

    Every route that hands a model its inputs as files (`bench export`, `--model command`) writes
    them here, so the model gets the same bytes whichever route it runs by: the prepared PNG and
    16-bit mono WAV are copied byte for byte (a decode and re-encode would move samples by one
    step); only another `audio_rate`, a non-PNG image or a WAV that is not 16-bit mono is re-encoded.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    identity, audio = folder / MODEL_IDENTITY, folder / MODEL_AUDIO
    with open(identity_path, "rb") as f:
        is_png = f.read(len(_PNG_SIGNATURE)) == _PNG_SIGNATURE
    if is_png:
        shutil.copyfile(identity_path, identity)
    else:
        write_image(identity, read_image(identity_path))
    try:
        with wave.open(str(audio_path), "rb") as w:
            rate, plain = w.getframerate(), (w.getnchannels(), w.getsampwidth()) == (1, 2)
    except (OSError, wave.Error, EOFError) as exc:
        raise MediaError(f"{audio_path}: unreadable wav ({exc})") from exc
    target = audio_rate or rate
    if plain and target == rate:
        shutil.copyfile(audio_path, audio)
    else:
        samples, rate = read_wav(audio_path)
        write_wav(audio, resample_audio(samples, rate, target), target)
    return identity, audio, target
