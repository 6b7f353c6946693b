"""Conforming an external model's files to their clips: size, rate and length, each recorded."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from adapters.conform import ConformPolicy, nearest_frame_indices, read_conformed
from benchmark.core.errors import BenchError
from benchmark.core.media import VideoMismatch, read_video, resize_frame, write_video
from benchmark.core.records import load_record
from tests.conftest import run_bench


def _ffmpeg_fps_filter(n_in: int, rate_in: float, rate_out: float) -> list[int]:
    """The input frame FFmpeg's own fps filter (libavfilter, through PyAV) puts in each output slot."""
    import av
    from av.filter import Graph

    time_base = 1 / Fraction(rate_in).limit_denominator(1001)
    graph = Graph()
    source = graph.add_buffer(width=16, height=16, format="gray16le", time_base=time_base)
    fps = graph.add("fps", f"fps={Fraction(rate_out).limit_denominator(1001)}")
    sink = graph.add("buffersink")
    source.link_to(fps)
    fps.link_to(sink)
    graph.configure()
    out: list[int] = []

    def drain():
        while True:
            try:
                out.append(int(graph.pull().to_ndarray()[0, 0]))
            except (av.BlockingIOError, av.EOFError):
                return

    for i in range(n_in):
        frame = av.VideoFrame.from_ndarray(np.full((16, 16), i, np.uint16), format="gray16le")
        frame.pts, frame.duration, frame.time_base = i, 1, time_base
        graph.push(frame)
        drain()
    graph.push(None)
    drain()
    return out


@pytest.mark.parametrize(
    "n_in,rate_in,rate_out",
    [
        (91, 30, 25),
        (75, 25, 30),
        (20, 24, 25),
        (10, 50, 25),
        (7, 25, 60),
        (100, 30000 / 1001, 25),
        (75, 25, 24),
        (1, 30, 25),
        (250, 25, 30000 / 1001),
        (33, 60, 25),
    ],
)
def test_nearest_frame_resampling_picks_what_ffmpegs_fps_filter_picks(n_in, rate_in, rate_out):
    assert nearest_frame_indices(n_in, rate_in, rate_out).tolist() == _ffmpeg_fps_filter(n_in, rate_in, rate_out)


def _indexed_video(path: Path, n: int, size: tuple[int, int], fps: float) -> np.ndarray:
    """Frames whose pixels encode their index (lossless), with a gradient so resizing has something to do."""
    rng = np.random.default_rng(n)
    frames = rng.integers(0, 255, (n, *size, 3), dtype=np.uint8)
    frames[:, :4, :4, 0] = np.arange(n, dtype=np.uint8)[:, None, None]
    write_video(path, frames, fps, codec="ffv1")
    return frames


def test_size_rate_and_length_are_conformed_and_recorded(tmp_path):
    source = _indexed_video(tmp_path / "a.mkv", 91, (64, 64), 30)
    video = read_conformed(
        tmp_path / "a.mkv", 75, (32, 32), 25.0, ConformPolicy.from_args("folder", resize="bicubic", fps="nearest")
    )
    indices = nearest_frame_indices(91, 30, 25)[:75]  # 76 after resampling, one cropped at the end
    expected = np.stack([resize_frame(source[i], (32, 32), "bicubic") for i in indices])
    assert video.frames.shape == (75, 32, 32, 3) and video.fps == 25.0
    assert np.array_equal(video.frames, expected)
    assert video.conformed == {
        "resized": {"from": [64, 64], "to": [32, 32], "filter": "PIL bicubic"},
        "fps_resampled": {
            "from": 30.0,
            "to": 25.0,
            "method": "nearest frame (FFmpeg fps filter, round=near)",
            "frames": [91, 76],
        },
        "length": {"from": 76, "to": 75, "how": "cropped 1 frame(s) at the end"},
    }


def test_a_short_video_is_padded_with_its_last_frame_and_a_matching_one_is_untouched(tmp_path):
    source = _indexed_video(tmp_path / "short.mkv", 73, (32, 32), 25)
    video = read_conformed(tmp_path / "short.mkv", 75, (32, 32), 25.0, ConformPolicy())
    assert np.array_equal(video.frames, np.concatenate([source, source[-1:], source[-1:]]))
    assert video.conformed == {"length": {"from": 73, "to": 75, "how": "padded 2 frame(s): last frame repeated"}}
    exact = _indexed_video(tmp_path / "exact.mkv", 75, (32, 32), 25)
    video = read_conformed(tmp_path / "exact.mkv", 75, (32, 32), 25.0, ConformPolicy())
    assert video.conformed is None and np.array_equal(video.frames, exact)


def test_mismatches_beyond_the_options_fail_naming_the_option_that_would_accept_them(tmp_path):
    _indexed_video(tmp_path / "big.mkv", 90, (64, 64), 30)
    with pytest.raises(VideoMismatch) as refused:
        read_conformed(tmp_path / "big.mkv", 75, (32, 32), 25.0, ConformPolicy())
    assert "resize=lanczos" in str(refused.value) and "fps=nearest" in str(refused.value)
    assert str(tmp_path / "big.mkv") in str(refused.value)
    _indexed_video(tmp_path / "long.mkv", 79, (32, 32), 25)
    with pytest.raises(VideoMismatch, match=r"79 frames, the clip has 75; .*pass max_length_diff=4"):
        read_conformed(tmp_path / "long.mkv", 75, (32, 32), 25.0, ConformPolicy())
    assert (
        read_conformed(
            tmp_path / "long.mkv", 75, (32, 32), 25.0, ConformPolicy.from_args("folder", max_length_diff="4")
        ).n_frames
        == 75
    )
    _indexed_video(tmp_path / "short.mkv", 73, (32, 32), 25)
    with pytest.raises(VideoMismatch, match="max_length_diff=2 in --model-args to pad"):  # 0 allows none
        read_conformed(
            tmp_path / "short.mkv", 75, (32, 32), 25.0, ConformPolicy.from_args("folder", max_length_diff="0")
        )
    _indexed_video(tmp_path / "wide.mkv", 75, (32, 64), 25)
    with pytest.raises(VideoMismatch, match="stretch the face"):
        read_conformed(tmp_path / "wide.mkv", 75, (32, 32), 25.0, ConformPolicy.from_args("folder", resize="lanczos"))


@pytest.mark.parametrize(
    "args,message",
    [
        ({"resize": "cubic"}, "resize='cubic'"),
        ({"fps": "blend"}, "fps='blend'"),
        ({"max_length_diff": "-1"}, "max_length_diff='-1'"),
        ({"max_length_diff": "two"}, "max_length_diff='two'"),
    ],
)
def test_unknown_conform_options_are_refused_in_one_line(args, message):
    with pytest.raises(BenchError, match=message):
        ConformPolicy.from_args("folder", **args)


# a model from another repository: reads the exported pack, writes 512x512 at 30 fps, one frame long
PACK_MODEL = """
import csv, sys
from pathlib import Path
import numpy as np
from PIL import Image
from benchmark.core.media import read_wav, write_video
pack, out = Path(sys.argv[1]), Path(sys.argv[2])
for row in csv.DictReader(open(pack / "manifest.csv")):
    face = np.asarray(Image.open(pack / row["identity"]).convert("RGB").resize((512, 512), Image.BICUBIC))
    audio, _ = read_wav(pack / row["audio"])
    n = round(int(row["n_frames"]) / float(row["fps"]) * 30) + 1
    frames = np.repeat(face[None], n, axis=0)
    for t, chunk in enumerate(np.array_split(audio, n)):
        frames[t, 330:330 + int(60 * min(8 * np.sqrt(np.mean(chunk ** 2)), 1)), 200:312] //= 3
    write_video(out / row["output"], frames, 30, codec="libx264")
"""


def test_export_model_elsewhere_validate_and_run_with_conform_options(mini_data_root, tmp_path):
    pack, outputs = tmp_path / "pack", tmp_path / "outputs"
    run_bench("export", "mini", "-o", str(pack), data_root=mini_data_root, cwd=tmp_path)
    (tmp_path / "model.py").write_text(PACK_MODEL)
    outputs.mkdir()
    import subprocess
    import sys

    subprocess.run([sys.executable, str(tmp_path / "model.py"), str(pack), str(outputs)], check=True, cwd=tmp_path)
    n_clips = len((pack / "manifest.csv").read_text().splitlines()) - 1  # the header

    refused = run_bench(
        "validate",
        "--model",
        "folder",
        "--model-args",
        f"dir={outputs}",
        "--dataset",
        "mini",
        data_root=mini_data_root,
        cwd=tmp_path,
        check_codes=(1,),
    )
    assert (
        f"{n_clips} would fail" in refused.stdout
        and "resize=lanczos" in refused.stdout
        and "fps=nearest" in refused.stdout
    )
    assert refused.stdout.count("FAIL") == 1 and f"FAIL {n_clips} clips (" in refused.stdout  # one problem, said once
    assert f"{outputs}/<clip id>.mp4: frames are 512x512" in refused.stdout
    conform = f"dir={outputs},resize=lanczos,fps=nearest"
    listed = run_bench(
        "validate",
        "--model",
        "folder",
        "--model-args",
        conform,
        "--dataset",
        "mini",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    assert (
        f"{n_clips} to be conformed (resized {n_clips}, fps resampled {n_clips}, length {n_clips}), 0 would fail"
        in listed.stdout
    )
    assert "resize 512x512 -> 256x256 (PIL Lanczos); resample 30 -> 25 fps" in listed.stdout

    proc = run_bench(
        "run",
        "--model",
        "folder",
        "--model-args",
        conform,
        "--dataset",
        "mini",
        "--name",
        "my-model",
        "--metrics",
        "psnr,ssim",
        "--out",
        str(tmp_path / "runs"),
        "--no-progress",
        data_root=mini_data_root,
        cwd=tmp_path,
    )
    assert "conformed to the clips: fps resampled" in proc.stdout
    run_dir = next((tmp_path / "runs").rglob("record.json")).parent
    record = load_record(run_dir)
    assert record["label"] == "my-model" and record["clips"]["scored"] == n_clips
    assert record["clips"]["conformed"] == {"fps_resampled": n_clips, "length": n_clips, "resized": n_clips}
    assert record["adapter"]["conform"] == {
        "resize": "PIL Lanczos",
        "max_length_diff": 2,
        "fps": "nearest frame (FFmpeg fps filter, round=near)",
    }
    rows = [json.loads(line) for line in (run_dir / "clips.jsonl").read_text().splitlines()]
    import csv

    frames = {row["clip_id"]: int(row["n_frames"]) for row in csv.DictReader(open(pack / "manifest.csv"))}
    for r in rows:  # 30 fps resampled to 25 leaves a frame or two more than the clip: cropped at the end
        length = r["conformed"]["length"]
        extra = length["from"] - length["to"]
        assert length["to"] == frames[r["clip_id"]] and 1 <= extra <= 2, length
        assert length["how"] == f"cropped {extra} frame(s) at the end"
    assert 15 < record["results"]["psnr"]["value"] < 40  # the face, conformed onto the reference's grid


# ---- a file's other streams and timing (issue 24, item 3) ------------------------------------------------


def _marked(n: int, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Random frames with frame i's index in a top-left 4x4 red patch (lossless codecs keep it)."""
    frames = np.random.default_rng(seed).integers(0, 255, (n, *size, 3), dtype=np.uint8)
    frames[:, :4, :4, 0] = np.arange(n, dtype=np.uint8)[:, None, None]
    return frames


def _write(
    path: Path,
    streams: list[np.ndarray],
    fps: int = 25,
    pts_ms: list[int] | None = None,
    rotation: float | None = None,
    hflip: bool = False,
) -> None:
    """FFV1 streams written with PyAV: several video streams, explicit timestamps (ms) or a display matrix."""
    import av

    with av.open(str(path), "w") as container:
        out = []
        for frames in streams:
            stream = container.add_stream("ffv1", rate=fps)
            stream.height, stream.width, stream.pix_fmt = frames.shape[1], frames.shape[2], "bgr0"
            if pts_ms is not None:
                stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
            if rotation is not None:
                stream.set_display_rotation(rotation, hflip=hflip)
            out.append(stream)
        for i in range(max(len(f) for f in streams)):
            for stream, frames in zip(out, streams):
                frame = av.VideoFrame.from_ndarray(frames[i], format="rgb24")
                if pts_ms is not None:
                    frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
                container.mux(stream.encode(frame))
        for stream in out:
            container.mux(stream.encode())


def test_a_file_with_two_video_streams_fails_naming_them_unless_one_is_picked(tmp_path):
    clip = _marked(8, (16, 16))
    path = tmp_path / "two.mkv"
    _write(path, [np.zeros_like(clip), clip])  # stream 0 black: once scored silently (PSNR 4.29, status ok)
    with pytest.raises(VideoMismatch) as refused:
        read_conformed(path, 8, (16, 16), 25.0, ConformPolicy())
    message = str(refused.value)
    assert str(path) in message and "2 video streams" in message
    assert "0:v:0 ffv1 16x16 25 fps; 0:v:1 ffv1 16x16 25 fps" in message and "video_stream=N" in message
    with pytest.raises(VideoMismatch, match="2 video streams"):  # references and sources are read the same way
        read_video(path)
    picked = read_conformed(path, 8, (16, 16), 25.0, ConformPolicy.from_args("folder", video_stream="1"))
    assert np.array_equal(picked.frames, clip) and picked.conformed == {"video_stream": {"index": 1, "of": 2}}
    assert np.array_equal(read_video(path, stream=0).frames, np.zeros_like(clip))
    with pytest.raises(VideoMismatch, match="no video stream 2; it has 0:v:0"):
        read_conformed(path, 8, (16, 16), 25.0, ConformPolicy.from_args("folder", video_stream="2"))
    with pytest.raises(BenchError, match="video_stream='first'"):
        ConformPolicy.from_args("folder", video_stream="first")


def test_a_variable_frame_rate_is_refused_or_placed_by_timestamp_as_fps_nearest(tmp_path):
    clip = _marked(7, (16, 16))
    path = tmp_path / "vfr.mkv"
    _write(path, [clip], pts_ms=[0, 40, 80, 200, 240, 250, 260])  # the container still says 25 fps
    with pytest.raises(VideoMismatch) as refused:
        read_conformed(path, 8, (16, 16), 25.0, ConformPolicy())
    assert str(path) in str(refused.value)
    assert "variable frame rate: frame 3 is shown at 0.200 s, not at 0.120 s" in str(refused.value)
    assert "pass fps=nearest" in str(refused.value)
    video = read_conformed(path, 8, (16, 16), 25.0, ConformPolicy.from_args("folder", fps="nearest"))
    # slots at 25 fps: frames land on round(t * 25) = 0 1 2 5 6 6 7 (6.25 -> 6, 6.5 -> 7), each slot shows
    # the last frame landed on or before it, and 0.30 s (the last frame ends at 260 + 40 ms) is 8 slots
    assert video.frames[:, 0, 0, 0].tolist() == [0, 1, 2, 2, 2, 3, 5, 6]
    assert video.conformed["fps_resampled"]["frames"] == [7, 8]
    assert video.conformed["fps_resampled"]["from"].startswith("variable")


def test_a_constant_rate_with_rounded_timestamps_is_not_taken_for_variable(tmp_path):
    path = tmp_path / "ntsc.mkv"  # Matroska keeps milliseconds: 29.97 fps frames are 33 or 34 ms apart
    _indexed_video(path, 60, (16, 16), 30000 / 1001)
    video = read_conformed(path, 50, (16, 16), 25.0, ConformPolicy.from_args("folder", fps="nearest"))
    assert video.conformed["fps_resampled"]["from"] == round(30000 / 1001, 6)
    assert video.frames[:, 0, 0, 0].tolist() == nearest_frame_indices(60, 30000 / 1001, 25)[:50].tolist()


@pytest.mark.parametrize("degrees,corner", [(90, (-1, 0)), (-90, (0, -1)), (180, (-1, -1))])
def test_a_display_rotation_is_applied_as_players_do_and_recorded(tmp_path, degrees, corner):
    clip = _marked(6, (16, 24))
    clip[:, :4, :4] = 255  # a white top-left corner
    path = tmp_path / "phone.mkv"
    _write(path, [clip], rotation=degrees)
    shown = (24, 16) if degrees % 180 else (16, 24)
    video = read_conformed(path, 6, shown, 25.0, ConformPolicy())
    # counterclockwise (the display matrix's sense): 90 puts the top-left corner bottom-left, -90 (a phone
    # held upright, the old `rotate=90` tag) top-right, 180 bottom-right
    assert video.frames.shape == (6, *shown, 3)
    assert (video.frames[:, corner[0], corner[1]] == 255).all()
    assert video.frames[:, 0 if corner[0] else -1, 0 if corner[1] else -1].min() < 255
    assert video.conformed == {
        "rotated": {
            "degrees_counterclockwise": degrees,
            "from": [16, 24],
            "to": list(shown),
            "why": "the file's display matrix, as players apply it",
        }
    }
    assert np.array_equal(read_video(path, n_frames=6, size=shown).frames, video.frames)
    if degrees % 180:
        with pytest.raises(VideoMismatch, match=r"frames are 24x16 \(HxW\) as displayed \(its display matrix rotates"):
            read_video(path, n_frames=6, size=(16, 24))


def test_a_mirroring_display_matrix_fails_the_clip(tmp_path):
    path = tmp_path / "selfie.mkv"
    _write(path, [_marked(6, (16, 16))], rotation=0, hflip=True)
    with pytest.raises(VideoMismatch, match="selfie.mkv: its display matrix mirrors the picture"):
        read_conformed(path, 6, (16, 16), 25.0, ConformPolicy())


def test_validate_reports_streams_timing_and_rotation_per_clip(tmp_path):
    from adapters.folder import FolderAdapter
    from benchmark.cli import _conformed_text
    from benchmark.core.types import Clip

    def clip(name):
        return Clip(name, "s", "t", 6, 25.0, (16, 16), 16000, Path("v"), Path("a"), Path("i"), "f")

    _write(tmp_path / "two.mkv", [_marked(6, (16, 16)), _marked(6, (16, 16), seed=1)])
    _write(tmp_path / "vfr.mkv", [_marked(6, (16, 16))], pts_ms=[0, 40, 80, 160, 200, 240])
    _write(tmp_path / "turned.mkv", [_marked(6, (16, 16))], rotation=90)
    folder = FolderAdapter(dir=str(tmp_path))
    two, vfr, turned = (folder.inspect_clip(clip(n)) for n in ("two", "vfr", "turned"))
    assert two["status"] == "failed" and "2 video streams" in two["problem"]
    assert vfr["status"] == "failed" and "variable frame rate: frame 3" in vfr["problem"]
    assert turned["status"] == "conformed"
    assert _conformed_text(turned["conformed"]) == "rotate 90° counterclockwise 16x16 -> 16x16 (display matrix)"
    vfr = FolderAdapter(dir=str(tmp_path), fps="nearest").inspect_clip(clip("vfr"))
    assert vfr["status"] == "conformed"
    assert "by timestamp" in _conformed_text(vfr["conformed"])


def test_validate_groups_one_problem_shared_by_many_files():
    """The same failure on every file is one line with the clips it hits, not one line per clip."""
    from benchmark.engine.validation import group_failures

    def failed(clip_id, problem):
        return {"clip_id": clip_id, "status": "failed", "problem": problem}

    results = [
        failed(c, f"unusable video: /out/{c}.mp4: 30 fps but the protocol is 25 fps") for c in ("a_1", "a_2", "b_1")
    ]
    results += [failed("b_2", "corrupt video: /out/b_2.mp4: invalid data"), {"clip_id": "c_1", "status": "ok"}]
    assert group_failures(results) == [
        ("unusable video: /out/<clip id>.mp4: 30 fps but the protocol is 25 fps", ["a_1", "a_2", "b_1"]),
        ("corrupt video: /out/b_2.mp4: invalid data", ["b_2"]),
    ]
