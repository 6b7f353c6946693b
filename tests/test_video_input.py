"""Reading a video for a clip: metadata checked before decoding, decoding bounded, transparency refused.

Videos are synthesised here (small random frames, lossless FFV1 or H.264), so each test takes a second.
"""

from __future__ import annotations

import av
import numpy as np
import pytest

from benchmark.core import media
from benchmark.core.media import VideoMismatch, frame_limit, read_video, write_video

FORMATS = [("mkv", "ffv1"), ("mp4", "libx264")]


def _frames(n: int, h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext,codec", FORMATS)
@pytest.mark.parametrize("n", [8, 40])
def test_a_clip_and_a_few_frames_more_decode(tmp_path, ext, codec, n):
    for extra in (0, 3):
        path = tmp_path / f"v{extra}.{ext}"
        write_video(path, _frames(n + extra), 25, codec=codec)
        video = read_video(path, n_frames=n, size=(24, 32), fps=25)
        assert video.n_frames == n + extra and video.size == (24, 32)  # validation names the exact count


@pytest.mark.parametrize("ext,codec", FORMATS)
@pytest.mark.parametrize("n", [6, 30])
def test_a_far_longer_file_is_refused_from_its_metadata(tmp_path, monkeypatch, ext, codec, n):
    path = tmp_path / f"long.{ext}"
    write_video(path, _frames(3 * n), 25, codec=codec)
    decoded = []
    monkeypatch.setattr(media, "_decode", lambda *a: decoded.append(1))  # must not be reached
    with pytest.raises(VideoMismatch) as err:
        read_video(path, n_frames=n, size=(24, 32))
    assert str(path) in str(err.value) and f"cut it to the clip's {n} frames" in str(err.value)
    assert not decoded


@pytest.mark.parametrize("n", [5, 20])
def test_decoding_stops_past_the_margin_when_metadata_says_nothing(tmp_path, monkeypatch, n):
    path = tmp_path / "long.mkv"
    write_video(path, _frames(4 * n), 25, codec="ffv1")
    monkeypatch.setattr(media, "_check_metadata", lambda *a: None)  # a container without count or duration
    with pytest.raises(VideoMismatch, match=rf"more than {frame_limit(n)} frames, the clip has {n}"):
        read_video(path, n_frames=n)

    def endless():  # an endless stream of real frames: decoding must stop by itself
        import av

        while True:
            pulled.append(1)
            yield av.VideoFrame.from_ndarray(np.zeros((4, 4, 3), np.uint8), format="rgb24")

    pulled: list[int] = []
    with pytest.raises(VideoMismatch):
        media._decode(path, endless(), frame_limit(n), n, False)
    # frames 0 .. limit-1 decoded, frame `limit` pulled only to learn there is one more
    assert len(pulled) == frame_limit(n) + 1 and frame_limit(n) - n == max(5, -(-n // 10))


@pytest.mark.parametrize(
    "size,fps,expected",
    [
        ((24, 30), 25, r"frames are 24x32 \(HxW\), the clip's are 24x30; resize"),
        ((48, 32), 25, r"the clip's are 48x32"),
        ((24, 32), 30, r"25 fps but the protocol is 30 fps; resample"),
    ],
)
def test_another_size_or_rate_is_refused_before_decoding(tmp_path, size, fps, expected):
    path = tmp_path / "v.mkv"
    write_video(path, _frames(6), 25)
    with pytest.raises(VideoMismatch, match=expected):
        read_video(path, n_frames=6, size=size, fps=fps)


def _write_rgba(path, rgba: np.ndarray, codec: str) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.height, stream.width = rgba.shape[1:3]
        stream.pix_fmt = {"ffv1": "bgra", "png": "rgba", "qtrle": "argb"}[codec]
        for image in rgba:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgba")))
        container.mux(stream.encode())


@pytest.mark.parametrize("codec,ext", [("ffv1", "mkv"), ("png", "mov"), ("qtrle", "mov")])
@pytest.mark.parametrize("bad_frame", [0, 4])
def test_transparent_pixels_are_refused_opaque_alpha_is_dropped(tmp_path, codec, ext, bad_frame):
    rgb = _frames(6)
    alpha = np.full((6, 24, 32, 1), 255, np.uint8)
    opaque = tmp_path / f"opaque.{ext}"
    _write_rgba(opaque, np.concatenate([rgb, alpha], axis=-1), codec)
    np.testing.assert_array_equal(read_video(opaque, n_frames=6).frames, rgb)

    alpha[bad_frame, 3:5, 7:9] = 0 if bad_frame else 254  # a hidden patch, or one barely translucent pixel block
    if bad_frame == 0:
        alpha[:] = 0  # invisible everywhere: the case that once scored PSNR 100
    holey = tmp_path / f"holey.{ext}"
    _write_rgba(holey, np.concatenate([rgb, alpha], axis=-1), codec)
    with pytest.raises(VideoMismatch, match=rf"{holey.name}: frame {bad_frame} has transparent pixels"):
        read_video(holey, n_frames=6)
