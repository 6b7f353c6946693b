"""`bench speed memory`: peak resident memory of real `bench` runs, each in its own process.

Two runs, each measured with `os.wait4` on the child (its own peak, not this process's):
- a mini run with `--metrics all` (every metric that can run without user weights);
- one long clip at a large size: a `videos` protocol prepared from an N-frame 256² source (the
  mini face, looped), scored against a `folder` output of the same clip at S×S pixels (1080² by
  default) with `resize=lanczos`. Frames are resized as they are decoded, so the run should cost
  about one clip at the protocol's resolution, not the decoded size; both figures are printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchError

MIB = 1024 * 1024


def _bench(args: list[str], data_dir: Path, echo) -> tuple[int, float, int]:
    """(exit code, seconds, peak RSS in bytes) of `bench ARGS` in a child process."""
    command = [sys.executable, "-m", "benchmark.cli", *args, "--data-dir", str(data_dir)]
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: a chatty child never blocks on it
        t0 = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak, not the sum over children
        seconds = time.perf_counter() - t0
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            stderr.seek(0)
            echo(f"  `bench {' '.join(args)}` exited {code}: {stderr.read()[-800:]}")
    return code, seconds, usage.ru_maxrss * 1024  # Linux reports kilobytes


def _long_source(mini_clip, folder: Path, n_frames: int) -> None:
    """An N-frame talking clip at the mini's size: its frames and audio played forwards and backwards."""
    from benchmark.core.media import write_video, write_wav

    frames, audio = mini_clip.load_frames(), mini_clip.load_audio()
    order = np.concatenate([np.arange(len(frames)), np.arange(len(frames))[::-1]])
    index = np.resize(order, n_frames)
    write_video(folder / "speaker" / "long.mp4", frames[index], mini_clip.fps, codec="libx264")
    samples = int(round(n_frames / mini_clip.fps * mini_clip.sample_rate))
    write_wav(
        folder / "speaker" / "long.wav", np.resize(np.concatenate([audio, audio[::-1]]), samples), mini_clip.sample_rate
    )


def _large_output(clip, out: Path, side: int) -> None:
    """The clip's own frames, upscaled to side x side and encoded as `<clip id>.mp4`, one frame at a time."""
    from PIL import Image

    from benchmark.core.media import write_video

    big = (
        np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BICUBIC))
        for image in clip.load_frames()
    )
    write_video(out / f"{clip.id}.mp4", big, clip.fps, codec="libx264", preset="ultrafast")


def run(
    n_frames: int = 1000,
    side: int = 1080,
    metrics: str = "psnr,ssim,lmd,cpbd,blink",
    mini_all: bool = True,
    prepared_data: Path | None = None,
    echo=print,
) -> dict:
    """Both measurements in a throwaway data folder; `prepared_data`: copy its built mini from there."""
    from protocols.mini import MiniProtocol
    from protocols.user_videos import VideosProtocol

    figures = {}
    with tempfile.TemporaryDirectory(prefix="bench-speed-memory-") as tmp:
        tmp = Path(tmp)
        data, runs = tmp / "data", tmp / "runs"
        mini = MiniProtocol(data)
        if prepared_data is not None and (Path(prepared_data) / "mini").is_dir():
            shutil.copytree(Path(prepared_data) / "mini", data / "mini")
        else:
            echo("building the mini protocol (not measured)")
            mini.prepare()
        if mini_all:
            code, seconds, rss = _bench(
                [
                    "run",
                    "--model",
                    "still",
                    "--dataset",
                    "mini",
                    "--metrics",
                    "all",
                    "--out",
                    str(runs),
                    "--no-progress",
                ],
                data,
                echo,
            )
            figures["mini_all"] = {"exit": code, "seconds": seconds, "peak_rss_mib": rss / MIB}
            echo(f"mini, --metrics all, still image: peak RSS {rss / MIB:.0f} MiB ({seconds:.0f} s, exit {code})")
        echo(f"building a {n_frames}-frame source and its {side}x{side} output (not measured)")
        _long_source(mini.clips()[0], tmp / "source", n_frames)
        code, _, _ = _bench(
            ["prepare", "videos", "--source", str(tmp / "source"), "--name", "memory-check"], data, echo
        )
        if code != 0:
            raise BenchError(f"preparing the {n_frames}-frame source failed (exit {code}); nothing was measured")
        (clip,) = VideosProtocol(data, "memory-check").clips()
        _large_output(clip, tmp / "outputs", side)
        code, seconds, rss = _bench(
            [
                "run",
                "--model",
                "folder",
                "--model-args",
                f"dir={tmp / 'outputs'},resize=lanczos",
                "--dataset",
                "videos:memory-check",
                "--metrics",
                metrics,
                "--out",
                str(runs),
                "--no-progress",
            ],
            data,
            echo,
        )
        at_protocol = clip.n_frames * clip.size[0] * clip.size[1] * 3
        decoded = clip.n_frames * side * side * 3
        figures["long_clip"] = {
            "exit": code,
            "seconds": seconds,
            "peak_rss_mib": rss / MIB,
            "frames": clip.n_frames,
            "clip_mib_at_protocol_size": at_protocol / MIB,
            "clip_mib_decoded": decoded / MIB,
        }
        echo(
            f"one {clip.n_frames}-frame clip, output {side}x{side} resized while decoding, metrics {metrics}: "
            f"peak RSS {rss / MIB:.0f} MiB ({seconds:.0f} s, exit {code}); the clip is {at_protocol / MIB:.0f} MiB at "
            f"the protocol's {clip.size[0]}x{clip.size[1]} (generated + ground truth: {2 * at_protocol / MIB:.0f} MiB), "
            f"{decoded / MIB:.0f} MiB decoded at {side}x{side}"
        )
    return figures
