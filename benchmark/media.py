"""Reading and writing frames, audio and images. Every failure names the file."""

from __future__ import annotations

import itertools
import shutil
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmark.video import Video


class MediaError(ValueError):
    """A media file that cannot be read as what it claims to be."""


# A file may hold a few frames more than its clip (validation then names the exact count); beyond
# this margin it is refused from its metadata, or once decoding passes it, so memory stays one clip.
FRAME_MARGIN_FRACTION, FRAME_MARGIN_MIN = 0.10, 5


class VideoMismatch(MediaError):
    """A readable video that cannot stand for its clip (length, size, rate, transparency)."""


def frame_limit(n_frames: int) -> int:
    """The most frames decoded for a clip of `n_frames`: the clip plus the margin."""
    return n_frames + max(FRAME_MARGIN_MIN, int(np.ceil(FRAME_MARGIN_FRACTION * n_frames)))


# name -> (PIL filter, the label recorded beside every resized clip)
RESIZE_FILTERS = {"lanczos": ("LANCZOS", "PIL Lanczos"), "bicubic": ("BICUBIC", "PIL bicubic"),
                  "bilinear": ("BILINEAR", "PIL bilinear"), "area": ("BOX", "PIL box (area)"),
                  "nearest": ("NEAREST", "PIL nearest")}


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container says about its first video stream, read without decoding a frame."""

    height: int
    width: int
    fps: float
    declared_frames: int  # 0 when the container does not say (estimated from the duration where it can)


def resize_frame(image: np.ndarray, size: tuple[int, int], filter: str = "lanczos") -> np.ndarray:
    """(H, W, 3) uint8 -> `size` (H, W) with the named PIL filter (see RESIZE_FILTERS)."""
    from PIL import Image

    if tuple(image.shape[:2]) == tuple(size):
        return image
    pil_filter = getattr(Image.Resampling, RESIZE_FILTERS[filter][0])
    return np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((size[1], size[0]), pil_filter))


def probe_video(path: str | Path) -> VideoInfo:
    """Frame size, rate and declared length of `path`'s video stream; MediaError naming the file otherwise."""
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    try:
        with av.open(str(path)) as container:
            return _stream_info(path, container)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise MediaError(f"{path}: unreadable video ({type(exc).__name__}: {exc})") from exc


def read_video(path: str | Path, n_frames: int | None = None, size: tuple[int, int] | None = None,
               fps: float | None = None, resize_to: tuple[int, int] | None = None,
               resize_filter: str = "lanczos", extra_frames: int = 0, max_seconds: float | None = None) -> Video:
    """Decode `path` to RGB uint8, checking what the caller expects before the pixels fill memory.

    With `n_frames`, `size` (H, W) or `fps` given, the stream's metadata is checked first and a file
    of another frame size or rate, or longer than `frame_limit(n_frames)`, is refused with a
    VideoMismatch naming the file and the fix; decoding stops past that limit. Frames with an alpha
    channel must be opaque: transparent pixels would be scored as if visible, so they are refused.
    `resize_to` resizes each frame as it is decoded, so a 1080p file costs one clip at `resize_to`;
    `extra_frames` widens the limit for a file that is conformed afterwards (another rate, a trim).
    `max_seconds` keeps only the frames that start before that time (a long source cut to its clip):
    decoding stops there, so a ten-minute source costs only what is kept.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such video file")
    limit = frame_limit(n_frames) + max(0, extra_frames) if n_frames is not None else None
    try:
        with av.open(str(path)) as container:
            info = _stream_info(path, container)
            _check_metadata(path, info, n_frames, limit, size, fps)
            stream = container.streams.video[0]
            alpha = _has_alpha(stream.codec_context.pix_fmt)
            fit = (lambda image: resize_frame(image, resize_to, resize_filter)) if resize_to else None
            decoded = container.decode(stream)
            if max_seconds is not None:
                decoded = itertools.islice(decoded, max(1, int(round(max_seconds * info.fps))))
            frames = _decode(path, decoded, limit, n_frames, alpha, fit)
    except MediaError:
        raise
    except Exception as exc:  # PyAV raises many error types for damaged files
        raise MediaError(f"{path}: unreadable video ({type(exc).__name__}: {exc})") from exc
    if not len(frames):
        raise MediaError(f"{path}: contains no decodable frames")
    return Video(frames, info.fps)


def _stream_info(path: Path, container) -> VideoInfo:
    if not container.streams.video:
        raise MediaError(f"{path}: has no video stream")
    stream = container.streams.video[0]
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    declared = int(stream.frames or 0)  # Matroska has no count: estimate it from the duration
    if not declared and stream.duration and stream.time_base:
        declared = int(float(stream.duration * stream.time_base) * rate)
    elif not declared and container.duration and len(container.streams) == 1:  # else audio may be longer
        declared = int(container.duration / 1_000_000 * rate)  # AV_TIME_BASE units
    return VideoInfo(stream.codec_context.height, stream.codec_context.width, rate, declared)


def _check_metadata(path: Path, info: VideoInfo, n_frames, limit, size, fps) -> None:
    if size is not None and (info.height, info.width) != tuple(size):
        raise VideoMismatch(f"{path}: frames are {info.height}x{info.width} (HxW), the clip's are {size[0]}x{size[1]}; "
                            f"resize the video to {size[1]}x{size[0]} (width x height)")
    if fps is not None and abs(info.fps - fps) > 1e-3:
        raise VideoMismatch(f"{path}: {info.fps:g} fps but the protocol is {fps:g} fps; resample it to {fps:g} fps")
    if limit is not None and info.declared_frames > limit:
        raise VideoMismatch(f"{path}: {info.declared_frames} frames, the clip has {n_frames}; "
                            f"cut it to the clip's {n_frames} frames")


def _has_alpha(pix_fmt: str | None) -> bool:
    import av

    try:
        return any(c.is_alpha for c in av.VideoFormat(pix_fmt).components)
    except (TypeError, ValueError):
        return False


def _decode(path: Path, frames, limit: int | None, n_frames: int | None, alpha: bool, fit=None) -> np.ndarray:
    """Decoded frames, never more than `limit`, into one buffer (no second copy); opaque alpha dropped."""
    out: list[np.ndarray] = []
    buffer, count = None, 0
    for i, frame in enumerate(frames):
        if limit is not None and i >= limit:
            raise VideoMismatch(f"{path}: more than {limit} frames, the clip has {n_frames}; "
                                f"cut it to the clip's {n_frames} frames")
        if alpha:
            rgba = frame.to_ndarray(format="rgba")
            if rgba[..., 3].min() < 255:
                raise VideoMismatch(f"{path}: frame {i} has transparent pixels (alpha < 255), which scores would "
                                    "ignore; flatten the video onto an opaque background and encode it without alpha")
            image = rgba[..., :3]
        else:
            image = frame.to_ndarray(format="rgb24")
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
                chunks.append(data.mean(axis=0) if frame.format.is_planar else data.reshape(-1, len(frame.layout.channels)).mean(1))
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


def write_model_inputs(folder: str | Path, identity_path: str | Path, audio_path: str | Path,
                       audio_rate: int | None = None) -> tuple[Path, Path, int]:
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
