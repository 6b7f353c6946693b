"""Per-frame facial state planted in the mini clips: mouth by viseme, seeded blinks, head motion.

Everything here is pure: (phones, seed) -> arrays. The renderer turns them into pixels and the
same arrays become the ground truth the metrics are tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark.core.types import PhoneEvent
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
NEUTRAL_MOTION = np.array([0.0, 0.0, 0.0, 1.0])  # head_motion's (angle, tx, ty, scale) with no motion
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


def mouth_aperture(phones: tuple[PhoneEvent, ...], n_frames: int, fps: float) -> np.ndarray:
    """Target aperture per frame: viseme keyframes, linearly blended, exact closure on bilabials."""
    rest = REST_APERTURE
    times, values = [0.0], [rest]
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
    for event in bilabial_events(phones, n_frames, fps):
        aperture[list(event.frames)] = 0.0
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


def head_motion(rng: np.random.Generator, n_frames: int, fps: float) -> np.ndarray:
    """Slow, small similarity motion per frame: (angle rad, tx px, ty px, scale)."""
    t = frame_centres(n_frames, fps)
    freq = rng.uniform(0.2, 0.5, size=4)
    phase = rng.uniform(0, 2 * np.pi, size=4)
    wave = np.sin(2 * np.pi * freq[None] * t[:, None] + phase[None])
    amplitude = np.array([np.deg2rad(1.5), 2.0, 1.5, 0.01])
    motion = wave * amplitude
    motion[:, 3] += 1.0
    return motion


def pose_face(template: F.FaceTemplate, aperture: float, eye_openness: float, motion: np.ndarray) -> np.ndarray:
    """Landmarks + anchors for one frame (the border points are appended unchanged)."""
    lm = template.landmarks.copy()
    _set_aperture(lm, aperture)
    for upper, lower in ((F.LEFT_EYE_UPPER, F.LEFT_EYE_LOWER), (F.RIGHT_EYE_UPPER, F.RIGHT_EYE_LOWER)):
        lm[upper] = lm[lower] + eye_openness * (lm[upper] - lm[lower])
    moving = np.concatenate([lm, template.anchors])
    angle, tx, ty, scale = motion
    centre = template.landmarks[27:36].mean(0)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    moving = centre + scale * (moving - centre) @ rot.T + [tx, ty]
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
