"""Mouth openness and the speech envelope, both on the video's time axis (one value per frame).

The audio-visual sync measures compare these two signals; the THEval ones and ours only differ in
window, hop and normalisation, so both are built from `rms_envelope` here.
"""

from __future__ import annotations

import numpy as np

INNER_LIP_PAIRS = ((61, 67), (62, 66), (63, 65))  # iBUG-68 upper/lower inner-lip points facing each other
OUTER_EYE_CORNERS = (36, 45)


FRAME_TIMES = ("start", "centre")


def frame_times(n_frames: int, fps: float, at: str = "start") -> np.ndarray:
    """Each frame's time: its start i / fps (the axis THEval interpolates the audio envelope onto) or the
    centre of its display interval (i + 0.5) / fps (the instant mini renders and the bilabial check reads)."""
    if at not in FRAME_TIMES:
        raise ValueError(f"frame time {at!r} is not one of {', '.join(FRAME_TIMES)}")
    return (np.arange(n_frames, dtype=np.float64) + (0.5 if at == "centre" else 0.0)) / float(fps)


def rms_frames(audio: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS per analysis frame, centred (the signal zero-padded by frame_length // 2 on both sides): the
    convention of librosa.feature.rms(center=True, pad_mode="constant"); frame k is centred at k · hop."""
    y = np.asarray(audio, dtype=np.float64)
    pad = frame_length // 2
    y = np.pad(y, (pad, pad))
    if y.size < frame_length:
        return np.zeros(0)
    n = 1 + (y.size - frame_length) // hop_length
    idx = np.arange(frame_length)[None, :] + hop_length * np.arange(n)[:, None]
    return np.sqrt(np.mean(y[idx] ** 2, axis=1))


def rms_envelope(
    audio: np.ndarray,
    rate: int,
    n_frames: int,
    fps: float,
    window_s: float = 0.05,
    hop_s: float = 0.05,
    frame_time: str = "start",
) -> np.ndarray:
    """RMS of `window_s` windows every `hop_s` (sample counts truncated, int(s · rate)), linearly
    interpolated at each frame's time (`frame_times`; held at the ends). The defaults are THEval's
    lip-sync volume (frame = hop = 50 ms, frame starts); the weightless offset uses hop 10 ms at frame
    centres, where a half-frame shift of the axis would otherwise read as half a frame of offset."""
    frame_length, hop_length = max(int(window_s * rate), 1), max(int(hop_s * rate), 1)
    rms = rms_frames(audio, frame_length, hop_length)
    if rms.size == 0:
        return np.zeros(n_frames)
    times = np.arange(rms.size) * hop_length / float(rate)
    return np.interp(frame_times(n_frames, fps, frame_time), times, rms)


def mouth_openness(points: np.ndarray) -> np.ndarray:
    """Inner-lip gap (mean of the three facing pairs, Euclidean) over the outer-eye-corner distance:
    (T, 68, 2) -> (T,). Scale-free; NaN where the frame has no face."""
    p = np.asarray(points, dtype=np.float64)
    gap = np.mean([np.linalg.norm(p[:, a] - p[:, b], axis=-1) for a, b in INNER_LIP_PAIRS], axis=0)
    iod = np.linalg.norm(p[:, OUTER_EYE_CORNERS[0]] - p[:, OUTER_EYE_CORNERS[1]], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(iod > 1e-9, gap / iod, np.nan)
