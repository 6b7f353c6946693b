"""Conforming videos made elsewhere to their clip: explicit options, each change recorded.

External models (`folder`, `command`) often write another size (512²), another rate (30 fps) or a
frame or two more or fewer than the reference. Scoring them needs the frames at the clip's size,
rate and length; how they got there changes the numbers, so it is opt-in (size, rate) or bounded
(length) and every clip row says what was done:

    resize=lanczos|bicubic|bilinear|area|nearest   resize to the clip's size with that PIL filter
    fps=nearest                                     resample to the clip's rate, nearest frame (as FFmpeg's fps filter);
                                                    a variable-frame-rate file: each frame placed by its timestamp
    max_length_diff=K                               crop the end / repeat the last frame for up to K frames (default 2)
    video_stream=N                                  score video stream N (FFmpeg's 0:v:N) of a file holding several

A mismatch beyond what the options allow fails the clip with a message naming the option that
would accept it. A display matrix (a 90° rotation) is applied as players apply it, and recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.core.media import (
    RESIZE_FILTERS,
    AmbiguousVideoStreams,
    FrameTimes,
    VideoInfo,
    VideoMismatch,
    probe_video,
    read_video_timed,
)
from benchmark.core.video import Video

CONFORM_ARGS = ("resize", "fps", "max_length_diff", "video_stream")
DEFAULT_MAX_LENGTH_DIFF = 2
FPS_METHODS = {"nearest": "nearest frame (FFmpeg fps filter, round=near)"}
ASPECT_TOLERANCE = 0.01  # resizing never changes the face's proportions by more than this


@dataclass(frozen=True)
class ConformPolicy:
    resize: str | None = None  # a RESIZE_FILTERS name; None: another size fails the clip
    fps: str | None = None  # a FPS_METHODS name; None: another rate fails the clip
    max_length_diff: int = DEFAULT_MAX_LENGTH_DIFF
    video_stream: int | None = None  # FFmpeg's 0:v:N; None: a file with several video streams fails the clip

    @classmethod
    def from_args(
        cls,
        adapter: str,
        resize: str | None = None,
        fps: str | None = None,
        max_length_diff: str | int | None = None,
        video_stream: str | int | None = None,
    ) -> ConformPolicy:
        if resize is not None and resize not in RESIZE_FILTERS:
            raise BenchError(
                f"{adapter}: resize={resize!r} is not a filter I know",
                hint=f"resize={' | '.join(RESIZE_FILTERS)} (lanczos is what built-in models get)",
            )
        if fps is not None and fps not in FPS_METHODS:
            raise BenchError(
                f"{adapter}: fps={fps!r} is not a resampling method I know",
                hint="fps=nearest (each output frame is the nearest input frame, as FFmpeg's fps filter)",
            )
        return cls(resize, fps, _frames_count(adapter, max_length_diff), _stream_index(adapter, video_stream))

    @classmethod
    def from_config(cls, adapter: str, config: dict) -> ConformPolicy:
        """The policy from an adapter's --model-args (the CONFORM_ARGS among them)."""
        return cls.from_args(adapter, **{k: config[k] for k in CONFORM_ARGS if k in config})

    def describe(self) -> dict:
        picked = {} if self.video_stream is None else {"video_stream": self.video_stream}
        return {
            "resize": RESIZE_FILTERS[self.resize][1] if self.resize else None,
            "fps": FPS_METHODS[self.fps] if self.fps else None,
            "max_length_diff": self.max_length_diff,
            **picked,
        }


def _frames_count(adapter: str, value) -> int:
    if value in (None, ""):
        return DEFAULT_MAX_LENGTH_DIFF
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0:
        raise BenchError(
            f"{adapter}: max_length_diff={value!r} is not a number of frames (0 or more)",
            hint="e.g. max_length_diff=2 (0: lengths must match exactly)",
        )
    return count


def _stream_index(adapter: str, value) -> int | None:
    if value in (None, ""):
        return None
    try:
        index = int(value)
    except (TypeError, ValueError):
        index = -1
    if index < 0:
        raise BenchError(
            f"{adapter}: video_stream={value!r} is not a stream number (0 or more)",
            hint="e.g. video_stream=0 (FFmpeg's 0:v:0, the first video stream)",
        )
    return index


def nearest_frame_indices(n_in: int, rate_in: float, rate_out: float) -> np.ndarray:
    """Which input frame each output frame shows when `n_in` frames at `rate_in` become `rate_out`.

    FFmpeg's fps filter (round=near): input frame i lands on output slot round(i * out / in) (halves
    away from zero), a slot shows the last input frame that landed on or before it, and the output
    lasts round(n_in * out / in) frames. Rates are taken as the rationals players use (29.97 =
    30000/1001), so the choice never depends on float rounding.
    """
    period = 1 / _rational(rate_in)
    return timed_frame_indices([i * period for i in range(n_in)], n_in * period, rate_out)


def timed_frame_indices(starts, end, rate_out: float) -> np.ndarray:
    """`nearest_frame_indices` for frames shown at `starts` (seconds, rationals) until `end`: the rule
    for a variable-frame-rate file, where frame i lands on slot round((start_i - start_0) * out)."""
    rate = _rational(rate_out)
    n_out = _round_half_up((end - starts[0]) * rate)
    landed = np.array([_round_half_up((t - starts[0]) * rate) for t in starts], dtype=np.int64)
    return np.searchsorted(landed, np.arange(n_out), side="right") - 1  # landed is non-decreasing


def _rational(rate: float) -> Fraction:
    return Fraction(rate).limit_denominator(1001)


def first_irregular_frame(times: FrameTimes | None, fps: float) -> int | None:
    """The first frame a variable frame rate puts elsewhere than its decoding order says, or None.

    Frame i is in place when its timestamp lands on slot i at the file's own rate (the fps=nearest
    rule): then placing frames by time and by order agree, a container's rounded timestamps
    (Matroska's milliseconds) included. Without timestamps the order is all there is.
    """
    if times is None or not fps:
        return None
    rate, t0 = _rational(fps), times.starts[0]
    for i, t in enumerate(times.starts):
        if _round_half_up((t - t0) * rate) != i or (i and t <= times.starts[i - 1]):
            return i
    return None


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def check_video(path: Path, info: VideoInfo, size: tuple[int, int], fps: float, policy: ConformPolicy) -> dict:
    """How `path`'s size and rate will be conformed, from its metadata; VideoMismatch when not allowed.

    The length and the timing are checked once decoded: a container's frame count can be an
    estimate, and only the timestamps show a variable frame rate.
    """
    plan: dict = {}
    if policy.video_stream is not None:
        plan["video_stream"] = {"index": policy.video_stream, "of": info.video_streams}
    if info.rotation:
        plan["rotated"] = {
            "degrees_counterclockwise": info.rotation,
            "from": list(info.coded_size),
            "to": [info.height, info.width],
            "why": "the file's display matrix, as players apply it",
        }
    refused: list[str] = []  # every option missing, named at once
    if (info.height, info.width) != tuple(size):
        if policy.resize is None:
            refused.append(
                f"frames are {info.height}x{info.width} (HxW), the clip's are {size[0]}x{size[1]}: pass "
                f"resize=lanczos in --model-args to resize them (recorded), or write {size[1]}x{size[0]}"
            )
        elif abs((info.width / info.height) / (size[1] / size[0]) - 1) > ASPECT_TOLERANCE:
            refused.append(
                f"frames are {info.height}x{info.width} (HxW), not the clip's shape {size[0]}x{size[1]}: "
                "resizing would stretch the face; crop it to the clip's aspect first"
            )
        else:
            plan["resized"] = {
                "from": [info.height, info.width],
                "to": list(size),
                "filter": RESIZE_FILTERS[policy.resize][1],
            }
    if abs(info.fps - fps) > 1e-3:
        if policy.fps is None:
            refused.append(
                f"{info.fps:g} fps but the protocol is {fps:g} fps: pass fps=nearest in --model-args to "
                f"resample it (recorded), or write {fps:g} fps"
            )
        else:
            plan["fps_resampled"] = {"from": round(info.fps, 6), "to": fps, "method": FPS_METHODS[policy.fps]}
    if refused:
        raise VideoMismatch(f"{path}: {'; '.join(refused)}")
    return plan


def read_conformed(path: Path, n_frames: int, size: tuple[int, int], fps: float, policy: ConformPolicy) -> Video:
    """The video at `path` at the clip's size, rate and length, as the policy allows; `Video.conformed` says how."""
    try:
        info = probe_video(path, policy.video_stream)
    except AmbiguousVideoStreams as exc:
        raise AmbiguousVideoStreams(
            f"{exc}, or pass video_stream=N in --model-args to score that one (recorded)"
        ) from None
    plan = check_video(path, info, size, fps, policy)
    source_frames = math.ceil(n_frames * info.fps / fps) if "fps_resampled" in plan else n_frames
    video, times = read_video_timed(
        path,
        n_frames=n_frames,
        extra_frames=source_frames - n_frames + policy.max_length_diff,
        fps=None if "fps_resampled" in plan else fps,
        size=None if "resized" in plan else size,
        resize_to=size if "resized" in plan else None,
        resize_filter=policy.resize or "lanczos",
        stream=info.stream,
    )
    frames = video.frames
    irregular = first_irregular_frame(times, info.fps)
    if irregular is not None:
        if policy.fps is None:
            start = float(times.starts[irregular] - times.starts[0])
            raise VideoMismatch(
                f"{path}: variable frame rate: frame {irregular} is shown at {start:.3f} s, not at "
                f"{irregular / info.fps:.3f} s as at a constant {info.fps:g} fps; pass fps=nearest in "
                f"--model-args to place each frame by its timestamp (recorded), or write a constant "
                f"{fps:g} fps"
            )
        end = times.end if times.end is not None else times.starts[-1] + 1 / _rational(info.fps)
        indices = timed_frame_indices(times.starts, end, fps)
        plan["fps_resampled"] = {
            "from": f"variable (timestamps; {info.fps:g} fps on average)",
            "to": fps,
            "method": FPS_METHODS[policy.fps] + ", each frame placed by its timestamp",
            "frames": [len(frames), len(indices)],
        }
        frames = frames[indices]
    elif "fps_resampled" in plan:
        indices = nearest_frame_indices(len(frames), info.fps, fps)
        plan["fps_resampled"]["frames"] = [len(frames), len(indices)]
        frames = frames[indices]
    _check_length(path, len(frames), n_frames, policy, plan)
    if "length" in plan:
        diff = len(frames) - n_frames
        frames = frames[:n_frames] if diff > 0 else np.concatenate([frames, np.repeat(frames[-1:], -diff, axis=0)])
    return Video(frames, fps, conformed=plan or None)


def _check_length(path: Path, length: int, n_frames: int, policy: ConformPolicy, plan: dict) -> None:
    diff = length - n_frames
    if diff == 0:
        return
    after = " after resampling" if "fps_resampled" in plan else ""
    if abs(diff) > policy.max_length_diff:
        raise VideoMismatch(
            f"{path}: {length} frames{after}, the clip has {n_frames}; max_length_diff="
            f"{policy.max_length_diff} allows ±{policy.max_length_diff}: if the video is right, pass "
            f"max_length_diff={abs(diff)} in --model-args to {'crop' if diff > 0 else 'pad'} it (recorded)"
        )
    plan["length"] = {
        "from": length,
        "to": n_frames,
        "how": f"cropped {diff} frame(s) at the end" if diff > 0 else f"padded {-diff} frame(s): last frame repeated",
    }
