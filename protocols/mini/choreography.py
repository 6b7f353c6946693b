"""Per-frame facial state planted in the mini clips: mouth by viseme, seeded blinks, 3-D head motion
(yaw, pitch, roll), eyebrow raises, and the mouth at rest through every silence.

Everything here is pure: (phones, seed) -> arrays. The renderer turns them into pixels and the
same arrays become the ground truth the metrics are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.core.types import PhoneEvent
from benchmark.perception import head_pose as H
from benchmark.perception.av_signals import rms_envelope
from protocols.mini import face as F

BILABIALS = frozenset({"p", "b", "m"})

# Target mouth aperture (inner-lip gap / mouth width) per viseme class.
APERTURE_BY_CLASS = {
    "bilabial": 0.0,
    "labiodental": 0.05,
    "pause": 0.03,
    "open_vowel": 0.38,
    "mid_vowel": 0.26,
    "close_vowel": 0.16,
    "rounded": 0.08,
    "consonant": 0.11,
}
REST_APERTURE = APERTURE_BY_CLASS["pause"]  # the mouth at rest (silence, pauses): lips together
# With the speech's loudness given, the mouth opens to halfway between the viseme's target and this, times
# the loudness: the viseme still shapes it, the sound times it (the keyframes alone lag the sound ~0.7 frame).
SPEAKING_APERTURE = 0.3
VISEME_WEIGHT = 0.5
LOUDNESS_WINDOW_S, LOUDNESS_HOP_S = 0.05, 0.01  # the weightless offset's envelope (metrics/motion/sync_metrics.py)
LOUDNESS_PERCENTILE = 95  # loudness 1 at this percentile of the speech frames' RMS
# head_motion's (yaw, pitch, roll in degrees, tx, ty in pixels, scale) with no motion
NEUTRAL_MOTION = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
_OPEN = ("a", "A", "V", "0", "O", "aI", "aU")
_CLOSE = ("i", "I", "u", "U", "oU", "OI")
_MID_FIRST = set("eE3@o")

# Eye openness during one blink, frame by frame (1 = open): ~200 ms, closed at the third frame.
BLINK_PROFILE = (0.55, 0.12, 0.0, 0.25, 0.7)
BLINKS_PER_SECOND = 0.35
MIN_FRAMES_BETWEEN_BLINKS = 15


def phone_base(name: str) -> str:
    """espeak mnemonic without stress (' ,) marks: "'eI" -> "eI"."""
    return name.replace("'", "").replace(",", "")


def viseme_class(name: str) -> str:
    base = phone_base(name)
    plain = base.rstrip(":")
    if plain in BILABIALS:
        return "bilabial"
    if plain in ("f", "v"):
        return "labiodental"
    if not plain or plain.startswith("_"):
        return "pause"
    if plain.startswith(_OPEN):
        return "open_vowel"
    if plain.startswith(_CLOSE):
        return "close_vowel"
    if plain[0] in _MID_FIRST:
        return "mid_vowel"
    if plain in ("w", "r"):
        return "rounded"
    return "consonant"


def frame_centres(n_frames: int, fps: float) -> np.ndarray:
    return (np.arange(n_frames) + 0.5) / fps


@dataclass(frozen=True)
class BilabialEvent:
    phone: str
    start: float
    end: float
    frames: tuple[int, ...]  # frames planted closed for this event


def bilabial_events(phones: tuple[PhoneEvent, ...], n_frames: int, fps: float) -> list[BilabialEvent]:
    """Merge back-to-back bilabials; every event closes at least the frame nearest its middle."""
    merged: list[list] = []
    for p in phones:
        if phone_base(p.phone).rstrip(":") not in BILABIALS:
            continue
        if merged and abs(merged[-1][2] - p.start) < 1e-9:
            merged[-1][2] = p.end
            merged[-1][0] += "+" + phone_base(p.phone)
        else:
            merged.append([phone_base(p.phone), p.start, p.end])
    centres = frame_centres(n_frames, fps)
    events = []
    for phone, start, end in merged:
        inside = np.nonzero((centres >= start) & (centres < end))[0]
        if inside.size == 0:
            inside = np.array([int(np.clip(np.floor((start + end) / 2 * fps), 0, n_frames - 1))])
        events.append(BilabialEvent(phone, start, end, tuple(int(i) for i in inside)))
    return events


def speech_loudness(
    audio: np.ndarray, rate: int, n_frames: int, fps: float, speech: tuple[tuple[float, float], ...]
) -> np.ndarray:
    """RMS of 50 ms windows at each frame's centre, as a fraction (clipped to 1) of the loud speech frames'
    level: 0 in silence, about 1 on stressed vowels."""
    rms = rms_envelope(audio, rate, n_frames, fps, LOUDNESS_WINDOW_S, LOUDNESS_HOP_S, frame_time="centre")
    centres = frame_centres(n_frames, fps)
    speaking = np.zeros(n_frames, dtype=bool)
    for start, end in speech:
        speaking |= (centres >= start) & (centres < end)
    level = np.percentile(rms[speaking], LOUDNESS_PERCENTILE) if speaking.any() else 0.0
    return np.clip(rms / level, 0.0, 1.0) if level > 0 else np.zeros(n_frames)


def mouth_aperture(
    phones: tuple[PhoneEvent, ...],
    n_frames: int,
    fps: float,
    silences: tuple[tuple[float, float], ...] = (),
    loudness: np.ndarray | None = None,
) -> np.ndarray:
    """Target aperture per frame: viseme keyframes, linearly blended (opened by the speech's `loudness`
    per frame when given), exact closure on bilabials, and the rest aperture held on every frame whose
    centre lies in a silence [start, end)."""
    rest = REST_APERTURE
    times, values = [0.0], [rest]
    for start, end in silences:
        times += [start, end]
        values += [rest, rest]
    for p in phones:
        target = APERTURE_BY_CLASS[viseme_class(p.phone)]
        if target == 0.0:  # hold the closure over the whole phone
            times += [p.start, p.end]
            values += [0.0, 0.0]
        else:
            times.append((p.start + p.end) / 2)
            values.append(target)
    times.append(n_frames / fps)
    values.append(rest)
    order = np.argsort(times, kind="stable")
    aperture = np.interp(frame_centres(n_frames, fps), np.asarray(times)[order], np.asarray(values)[order])
    if loudness is not None:
        target = VISEME_WEIGHT * aperture + (1 - VISEME_WEIGHT) * SPEAKING_APERTURE
        aperture = rest + (target - rest) * np.asarray(loudness, dtype=np.float64)
    for event in bilabial_events(phones, n_frames, fps):
        aperture[list(event.frames)] = 0.0
    centres = frame_centres(n_frames, fps)
    for start, end in silences:
        aperture[(centres >= start) & (centres < end)] = rest
    return aperture


def blink_schedule(rng: np.random.Generator, n_frames: int, fps: float) -> tuple[np.ndarray, list[int]]:
    """Eye openness per frame and the onset frame of each planted blink."""
    openness = np.ones(n_frames)
    expected = BLINKS_PER_SECOND * n_frames / fps
    wanted = int(rng.poisson(expected))
    last_start = n_frames - len(BLINK_PROFILE) - 3
    onsets: list[int] = []
    for candidate in rng.permutation(np.arange(3, max(last_start, 3))):
        if len(onsets) == wanted:
            break
        if all(abs(candidate - o) >= MIN_FRAMES_BETWEEN_BLINKS for o in onsets):
            onsets.append(int(candidate))
    onsets.sort()
    for onset in onsets:
        openness[onset : onset + len(BLINK_PROFILE)] = BLINK_PROFILE
    return openness, onsets


# head motion: still for the first STILL_SECONDS (the identity is that rest pose), then eased in by
# MOTION_EASE_SECONDS; per axis a slow and a faster sinusoid of seeded frequency and phase
STILL_SECONDS, MOTION_EASE_SECONDS = 0.2, 0.4
MOTION_AMPLITUDE = {  # (slow, fast) per axis of head_motion
    "yaw": (5.0, 1.5),
    "pitch": (3.0, 1.0),
    "roll": (2.0, 0.5),
    "tx": (2.0, 0.5),
    "ty": (1.5, 0.5),
    "scale": (0.01, 0.0),
}
SLOW_HZ, FAST_HZ = (0.2, 0.5), (0.8, 1.5)
# eyebrow raises: the brows lift by BROW_LIFT inter-ocular distances at the peak of a raised-cosine
# bump of BROW_RAISE_SECONDS, centred inside speech
BROW_LIFT = 0.07
BROW_RAISE_SECONDS = 0.6
BROWS = list(range(17, 27))


def ease(t: np.ndarray) -> np.ndarray:
    """0 before STILL_SECONDS, smoothstep up to 1 over MOTION_EASE_SECONDS."""
    x = np.clip((t - STILL_SECONDS) / MOTION_EASE_SECONDS, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def head_motion(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """Per frame (yaw, pitch, roll in degrees, tx, ty in pixels, scale): neutral at first, then two
    sinusoids per axis (see MOTION_AMPLITUDE)."""
    t = frame_centres(n_frames, fps)
    motion = np.zeros((n_frames, 6))
    for axis, (slow, fast) in enumerate(MOTION_AMPLITUDE.values()):
        f1, f2 = rng.uniform(*SLOW_HZ), rng.uniform(*FAST_HZ)
        p1, p2 = rng.uniform(0, 2 * np.pi, size=2)
        wave = slow * np.sin(2 * np.pi * f1 * t + p1) + fast * np.sin(2 * np.pi * f2 * t + p2)
        motion[:, axis] = ease(t) * wave
    motion[:, 5] += 1.0
    return motion


def brow_raises(
    rng: np.random.Generator, n_frames: int, fps: float, speech: tuple[tuple[float, float], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Brow lift per frame in [0, 1] and the peak times (s) of the raises: one per speech interval
    long enough to hold it, at a seeded time inside it."""
    t = frame_centres(n_frames, fps)
    lift = np.zeros(n_frames)
    peaks = []
    half = BROW_RAISE_SECONDS / 2
    for start, end in speech:
        if end - start < BROW_RAISE_SECONDS:
            continue
        peak = rng.uniform(start + half, end - half)
        bump = np.where(np.abs(t - peak) < half, 0.5 * (1 + np.cos(np.pi * (t - peak) / half)), 0.0)
        lift = np.maximum(lift, bump)
        peaks.append(peak)
    return lift, np.asarray(peaks, dtype=np.float64)


# Depth of each iBUG-68 point behind the outer eye corners' plane, in mm of a face 90 mm between those
# corners (positive = away from the camera). The rigid points take the pose estimator's canonical
# depths, so the angles it reads from the planted landmarks are the planted ones.
_DEPTH_MM = {
    **dict(zip(range(17), (40, 38, 34, 28, 20, 12, 4, -4, -8, -4, 4, 12, 20, 28, 34, 38, 40))),  # jaw
    **dict(zip(range(17, 27), (8, -2, -8, -12, -14, -14, -12, -8, -2, 8))),  # brows
    **dict(zip((37, 38, 40, 41, 43, 44, 46, 47), (-6, -8, -8, -6, -8, -6, -6, -8))),  # lids
    **dict(zip(range(48, 60), (-8, -16, -21, -23, -21, -16, -8, -14, -18, -19, -18, -14))),  # outer lips
    # inner lips: facing points share a depth, so lips closed in the image stay closed when the head turns
    **dict(zip(range(60, 68), (-10, -18, -20, -18, -10, -18, -20, -18))),
    **{i: xyz[2] for i, xyz in H.CANONICAL_MM.items()},  # nose and eye corners
}
JAW_RING_BEHIND_MM, FOREHEAD_BEHIND_MM = 25.0, 10.0


_DEPTHS: dict[int, tuple[F.FaceTemplate, np.ndarray]] = {}


def template_depth(template: F.FaceTemplate) -> np.ndarray:
    """Depth in pixels (same scale as the template's x, y) of the 68 landmarks and the anchors."""
    known = _DEPTHS.get(id(template))
    if known is not None and known[0] is template:
        return known[1]
    reference = H.reference_from_points(template.landmarks[None])  # canonical units: 1 = 90 mm
    rigid = template.landmarks[list(H.RIGID_IDS)]
    px_per_unit = np.linalg.norm(rigid - rigid.mean(0)) / np.linalg.norm(reference[:, :2] - reference[:, :2].mean(0))
    depth_mm = np.array([_DEPTH_MM[i] for i in range(68)], dtype=np.float64)
    ring = depth_mm[F.JAW] + JAW_RING_BEHIND_MM
    forehead = depth_mm[17:27] + FOREHEAD_BEHIND_MM
    depth = np.concatenate([depth_mm, ring, forehead]) * px_per_unit / 90.0
    _DEPTHS[id(template)] = (template, depth)
    return depth


def pose_face(
    template: F.FaceTemplate, aperture: float, eye_openness: float, motion: np.ndarray, brow_lift: float = 0.0
) -> np.ndarray:
    """Landmarks + anchors for one frame (the border points are appended unchanged): expression first,
    then the head rotated in 3-D about the nose's centre and projected orthographically."""
    lm = template.landmarks.copy()
    _set_aperture(lm, aperture)
    for upper, lower in ((F.LEFT_EYE_UPPER, F.LEFT_EYE_LOWER), (F.RIGHT_EYE_UPPER, F.RIGHT_EYE_LOWER)):
        lm[upper] = lm[lower] + eye_openness * (lm[upper] - lm[lower])
    iod = float(np.hypot(*(template.landmarks[45] - template.landmarks[36])))
    lm[BROWS, 1] -= brow_lift * BROW_LIFT * iod
    moving = np.concatenate([lm, template.anchors])
    yaw, pitch, roll, tx, ty, scale = motion
    centre = template.landmarks[27:36].mean(0)
    solid = np.concatenate([moving - centre, template_depth(template)[:, None]], axis=1)
    moving = centre + scale * (solid @ H.rotation(yaw, pitch, roll).T)[:, :2] + [tx, ty]
    return np.concatenate([moving, template.border])


def inner_gap(lm: np.ndarray) -> float:
    """Mean inner-lip gap (61-67, 62-66, 63-65): the aperture numerator of METRICS.md."""
    return float(np.mean(np.hypot(*(lm[F.INNER_UPPER_LIP] - lm[F.INNER_LOWER_LIP]).T)))


def aperture_of(lm: np.ndarray) -> float:
    return inner_gap(lm) / float(np.hypot(*(lm[54] - lm[48])))


def _set_aperture(lm: np.ndarray, aperture: float) -> None:
    """Move the lower lip and jaw so the inner-lip aperture equals `aperture` exactly."""
    upper, lower = F.INNER_UPPER_LIP, F.INNER_LOWER_LIP
    gap_now = inner_gap(lm)
    width = float(np.hypot(*(lm[54] - lm[48])))
    ratio = aperture * width / gap_now
    new_lower = lm[upper] + ratio * (lm[lower] - lm[upper])
    drop = float(np.mean(new_lower[:, 1] - lm[lower, 1]))
    lm[lower] = new_lower
    lm[F.OUTER_LOWER_LIP, 1] += drop
    for idx, share in ((8, 0.7), (7, 0.65), (9, 0.65), (6, 0.45), (10, 0.45), (5, 0.2), (11, 0.2)):
        lm[idx, 1] += share * drop
