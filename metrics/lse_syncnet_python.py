"""The conventions of joonson/syncnet_python's pipeline (run_pipeline.py + SyncNetInstance.evaluate),
which Wav2Lip's evaluation and most later papers ran to report LSE-C/LSE-D.

Reproduced: the face tracker (greedy IoU > 0.5 between a track's consecutive detections, at most
25 frames without one, tracks of more than `min_track` = 100 detections, boxes linearly
interpolated over missed frames, mean box side > 100 px), the crop (half-size = larger box side
/ 2, box centre and half-size median-filtered over 13 frames, pad 110, rows from centre - bs to
centre + bs(1 + 2 * 0.4), columns centre +- bs(1 + 0.4), cv2 bilinear resize to 224x224, BGR),
the audio (the track's span cut from 16 kHz mono 16-bit samples, python_speech_features' MFCC
with its defaults on the int16-scale values: 13 coefficients, 100 Hz), the windows (min(frames,
floor(samples / 640)) - 5 windows of 5 frames vs 20 MFCC steps, batches of 20) and the offset
search (+-15 frames).

Deviations, recorded in the variant's parameters: the face box comes from the harness' landmark
backend (face_geometry.face_box_from_landmarks, an S3FD-like box from the iBUG-68 jaw and brows)
because S3FD's weights cannot be fetched here; no scene cut detection (a clip is one shot); the
crops are not round-tripped through XVID and JPEG as the pipeline's files are (see
tests/test_lse_variants.py for how much an h264 round trip moves the score); audio at another
rate than 16 kHz is resampled with scipy's polyphase filter instead of FFmpeg's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from benchmark.core.errors import ClipError

FPS = 25
AUDIO_RATE = 16000
SAMPLES_PER_FRAME = AUDIO_RATE // FPS  # 640
MFCC_STEPS_PER_FRAME = 4
WINDOW_FRAMES = 5
MFCC_WINDOW = 20
PAD_VALUE = 110


@dataclass
class FaceTrack:
    frames: np.ndarray  # (N,) consecutive frame indices, first to last detection
    boxes: np.ndarray  # (N, 4) x1, y1, x2, y2, interpolated over frames without a detection


def box_iou(a, b) -> float:
    """IoU of two (x1, y1, x2, y2) boxes, as the pipeline computes it (no +1 pixel convention)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / float((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def track_faces(
    boxes: np.ndarray,
    min_track: int = 100,
    num_failed_det: int = 25,
    iou_threshold: float = 0.5,
    min_face_size: float = 100,
) -> tuple[list[FaceTrack], list[str]]:
    """(T, 4) per-frame face boxes (NaN rows: no face) -> (kept tracks, why each other track was dropped).

    The pipeline's greedy tracker, for one face per frame (what the landmark backends give): a track
    takes, in frame order, each face whose box overlaps the track's last box by IoU > `iou_threshold`
    within `num_failed_det` frames; the faces it does not take start later tracks. A track is kept
    with more than `min_track` detections and a mean box side (the larger of mean width and mean
    height, after interpolation) above `min_face_size` pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    pending = [t for t in range(len(boxes)) if np.all(np.isfinite(boxes[t]))]
    tracks, dropped = [], []
    while pending:
        members, rest = [pending[0]], []
        for t in pending[1:]:
            near = t - members[-1] <= num_failed_det
            (members if near and box_iou(boxes[t], boxes[members[-1]]) > iou_threshold else rest).append(t)
        pending = rest
        frames = np.array(members)
        span = f"frames {frames[0]}-{frames[-1]}"
        if len(members) <= min_track:
            dropped.append(
                f"its face track over {span} has {len(members)} detections, not more than min_track={min_track}"
            )
            continue
        every = np.arange(frames[0], frames[-1] + 1)
        filled = np.stack([np.interp(every, frames, boxes[frames, j]) for j in range(4)], axis=1)
        side = max(np.mean(filled[:, 2] - filled[:, 0]), np.mean(filled[:, 3] - filled[:, 1]))
        if side <= min_face_size:
            dropped.append(
                f"its face track over {span} has a mean box side of {side:.0f} px, not above "
                f"min_face_size={min_face_size:g}"
            )
            continue
        tracks.append(FaceTrack(every, filled))
    return tracks, dropped


def smoothed_boxes(boxes: np.ndarray, kernel: int = 13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4) boxes -> centre x, centre y and half-size bs (larger side / 2), each median-filtered
    over `kernel` frames with zero padding at the ends (scipy.signal.medfilt, as the pipeline)."""
    from scipy.signal import medfilt

    s = np.maximum(boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]) / 2
    y = (boxes[:, 1] + boxes[:, 3]) / 2
    x = (boxes[:, 0] + boxes[:, 2]) / 2
    return medfilt(x, kernel), medfilt(y, kernel), medfilt(s, kernel)


def crop_track(frames_rgb: np.ndarray, track: FaceTrack, crop_scale: float = 0.4, kernel: int = 13) -> np.ndarray:
    """(T, H, W, 3) RGB frames + a track -> (N, 224, 224, 3) uint8 BGR crops, the pipeline's crop_video."""
    import cv2

    xs, ys, ss = smoothed_boxes(track.boxes, kernel)
    out = np.empty((len(track.frames), 224, 224, 3), dtype=np.uint8)
    for i, frame in enumerate(track.frames):
        bs = ss[i]
        pad = int(bs * (1 + 2 * crop_scale))
        image = np.pad(
            np.ascontiguousarray(frames_rgb[frame][..., ::-1]),
            ((pad, pad), (pad, pad), (0, 0)),
            mode="constant",
            constant_values=PAD_VALUE,
        )
        my, mx = ys[i] + pad, xs[i] + pad
        face = image[
            int(my - bs) : int(my + bs * (1 + 2 * crop_scale)),
            int(mx - bs * (1 + crop_scale)) : int(mx + bs * (1 + crop_scale)),
        ]
        if face.size == 0:
            raise ClipError("metric", f"syncnet_python crop of frame {frame} is empty (box half-size {bs:.1f} px)")
        out[i] = cv2.resize(face, (224, 224))  # INTER_LINEAR, as the pipeline
    return out


def int16_audio_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono float audio in [-1, 1] -> float64 values on the 16-bit scale at 16 kHz: what the pipeline's
    `ffmpeg -ac 1 -acodec pcm_s16le -ar 16000` wav gives scipy's wavfile.read."""
    from benchmark.core.media import resample_audio

    audio = np.asarray(audio, dtype=np.float64)
    audio = audio.mean(axis=1) if audio.ndim > 1 else audio
    return np.clip(np.round(resample_audio(audio, rate, AUDIO_RATE) * 32768.0), -32768, 32767)


def track_audio(samples: np.ndarray, track: FaceTrack) -> np.ndarray:
    """The track's span of the 16 kHz samples (the pipeline cuts start/25 s to (end + 1)/25 s)."""
    return samples[track.frames[0] * SAMPLES_PER_FRAME : (track.frames[-1] + 1) * SAMPLES_PER_FRAME]


def mfcc_16k(samples: np.ndarray) -> np.ndarray:
    """(S,) int16-scale samples at 16 kHz -> (13, steps): python_speech_features.mfcc with its defaults."""
    from python_speech_features import mfcc

    return mfcc(samples, AUDIO_RATE).T


def n_windows(n_frames: int, n_samples: int) -> int:
    """SyncNetInstance.evaluate: lastframe = min(frames, floor(samples / 640)) - 5 windows."""
    return min(n_frames, n_samples // SAMPLES_PER_FRAME) - WINDOW_FRAMES


@torch.no_grad()
def track_features(model, crops: np.ndarray, samples: np.ndarray, device, batch_size: int = 20):
    """(lip features, audio features), (n, 1024) each, for the track's n windows, in batches of `batch_size`."""
    n = n_windows(len(crops), len(samples))
    if n < 1:
        raise ClipError(
            "metric",
            f"lse: {len(crops)} frames and {len(samples) / AUDIO_RATE:.2f} s of audio leave no 5-frame SyncNet window",
        )
    video = torch.from_numpy(crops).to(device).permute(3, 0, 1, 2).float()  # (3, T, 224, 224) BGR 0-255
    cc = torch.from_numpy(mfcc_16k(samples)).to(device).float()
    lips, audios = [], []
    for start in range(0, n, batch_size):
        idx = range(start, min(start + batch_size, n))
        lips.append(model.forward_lips(torch.stack([video[:, i : i + WINDOW_FRAMES] for i in idx])))
        audios.append(
            model.forward_audio(
                torch.stack(
                    [cc[None, :, i * MFCC_STEPS_PER_FRAME : i * MFCC_STEPS_PER_FRAME + MFCC_WINDOW] for i in idx]
                )
            )
        )
    return torch.cat(lips), torch.cat(audios)
