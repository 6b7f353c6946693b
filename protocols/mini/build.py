"""Builds the embedded mini protocol: a deterministic synthetic talking-head test set.

Each clip renders in its own fresh process: libespeak-ng keeps hidden global state between
utterances, so a fresh process is what makes the audio byte-identical run after run.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from benchmark.core.hashing import sha256_file, sha256_json
from benchmark.core.media import write_image, write_video, write_wav
from protocols import grid_grammar
from protocols.base import clip_list_fingerprint
from protocols.mini import choreography as C
from protocols.mini import face as F
from protocols.pool import stop_pool

# bump when the clips change (v2: the identity is a rest frame of the ground truth's rendering; v3: 3-D head
# motion with known yaw/pitch/roll, eyebrow raises, and silences -- lead, mid-sentence, trail -- with the
# mouth at rest, for the motion and sync metrics; v4: the mouth opens with the speech's loudness, so the
# ground truth's mouth is in time with its sound to a fraction of a frame)
VERSION = "v4"
FPS = 25
SIZE = 256
SAMPLE_RATE = 16000
SEED = 2026
# silence before and after the sentence (as GRID clips have) and inside it, between the preposition and
# the letter: each long enough that silero's padding (30 ms) and 0.1 s rounding leave THEval's 0.3 s
LEAD_SECONDS = 0.6
TRAIL_SECONDS = 0.6
PAUSE_SECONDS = 0.6
PAUSE_BEFORE_WORD = 3  # index of the word the pause precedes (the letter)
FADE_SECONDS = 0.01  # the speech fades out and in around the pause, so the cut does not click
MIN_FRAMES = 75  # GRID clips are 3 s at 25 fps
CAVITY_RGB = np.array([48.0, 16.0, 22.0])
CAVITY_OPACITY = 0.8

# (speaker id, espeak-ng voice, words per minute): voices whose first utterance is reproducible
SPEAKERS = (
    ("spk1", "en-us", 150),
    ("spk2", "en-029", 170),
    ("spk3", "en-GB-x-rp", 165),
    ("spk4", "en+m3", 195),
)
CLIPS_PER_SPEAKER = 3


@dataclass(frozen=True)
class ClipSpec:
    id: str
    speaker: str
    voice: str
    words_per_minute: int
    words: tuple[str, ...]
    seed: int


def clip_specs(clips_per_speaker: int = CLIPS_PER_SPEAKER) -> list[ClipSpec]:
    rng = np.random.default_rng(SEED)
    specs = []
    for speaker, voice, wpm in SPEAKERS:
        for k in range(clips_per_speaker):
            words = grid_grammar.sample_sentence(rng)
            clip_id = f"{speaker}_{grid_grammar.sentence_code(words)}"
            specs.append(ClipSpec(clip_id, speaker, voice, wpm, words, int(rng.integers(2**31))))
    return specs


def render_clip(spec: ClipSpec, out_dir: Path) -> dict:
    """Synthesise, choreograph and render one clip; write its files; return its manifest entry."""
    from protocols.mini.speech import synthesise

    utterance = synthesise(grid_grammar.spoken_text(spec.words), spec.voice, spec.words_per_minute, SAMPLE_RATE)
    speech, u_phones, u_words, cut = _with_pause(utterance, PAUSE_BEFORE_WORD, PAUSE_SECONDS, SAMPLE_RATE)
    n_frames = max(MIN_FRAMES, int(np.ceil((LEAD_SECONDS + speech.size / SAMPLE_RATE + TRAIL_SECONDS) * FPS)))
    audio = np.zeros(int(round(n_frames / FPS * SAMPLE_RATE)), dtype=np.float32)
    lead = int(round(LEAD_SECONDS * SAMPLE_RATE))
    audio[lead : lead + speech.size] = speech
    phones = tuple(type(p)(p.phone, p.start + LEAD_SECONDS, p.end + LEAD_SECONDS) for p in u_phones)
    words = tuple(type(w)(w.phone, w.start + LEAD_SECONDS, w.end + LEAD_SECONDS) for w in u_words)
    spoken = [p for p in phones if C.viseme_class(p.phone) != "pause"]
    speech_intervals = ((spoken[0].start, LEAD_SECONDS + cut), (LEAD_SECONDS + cut + PAUSE_SECONDS, spoken[-1].end))
    silences = _gaps(speech_intervals, n_frames / FPS)

    rng = np.random.default_rng(spec.seed)
    loudness = C.speech_loudness(audio, SAMPLE_RATE, n_frames, FPS, speech_intervals)
    aperture = C.mouth_aperture(phones, n_frames, FPS, silences, loudness)
    eye_openness, blink_onsets = C.blink_schedule(rng, n_frames, FPS)
    motion = C.head_motion(rng, n_frames, FPS)
    brow_lift, brow_peaks = C.brow_raises(rng, n_frames, FPS, speech_intervals)

    frames = np.empty((n_frames, SIZE, SIZE, 3), dtype=np.uint8)
    landmarks = np.empty((n_frames, 68, 2), dtype=np.float32)
    for t in range(n_frames):
        frames[t], landmarks[t] = render_frame(aperture[t], eye_openness[t], motion[t], brow_lift[t])

    events = C.bilabial_events(phones, n_frames, FPS)
    clip_dir = out_dir / "clips" / spec.id
    write_video(clip_dir / "video.mkv", frames, FPS, codec="ffv1")
    write_wav(clip_dir / "audio.wav", audio, SAMPLE_RATE)
    np.savez(
        clip_dir / "truth.npz",
        landmarks=landmarks,
        aperture=np.array([C.aperture_of(lm) for lm in landmarks], dtype=np.float32),  # as the 2-D landmarks show it
        mouth_state=aperture.astype(np.float32),  # the planted aperture before head rotation (rest in silences)
        eye_openness=eye_openness.astype(np.float32),
        blink_onsets=np.asarray(blink_onsets, dtype=np.int64),
        blink_profile=np.asarray(C.BLINK_PROFILE, dtype=np.float32),
        phones=np.asarray([p.phone for p in phones], dtype="<U8"),
        phone_start=np.asarray([p.start for p in phones], dtype=np.float64),
        phone_end=np.asarray([p.end for p in phones], dtype=np.float64),
        bilabial_start=np.asarray([e.start for e in events], dtype=np.float64),
        bilabial_end=np.asarray([e.end for e in events], dtype=np.float64),
        bilabial_phone=np.asarray([e.phone for e in events], dtype="<U8"),
        bilabial_closed_frames=_ragged(e.frames for e in events),
        head_motion=motion.astype(np.float32),  # yaw, pitch, roll (deg), tx, ty (px), scale
        head_pose=motion[:, :3].astype(np.float32),  # yaw, pitch, roll in degrees (head_pose.py's conventions)
        brow_lift=brow_lift.astype(np.float32),  # 0..1 of C.BROW_LIFT inter-ocular distances
        brow_peaks=brow_peaks,
        speech_start=np.asarray([a for a, _ in speech_intervals], dtype=np.float64),
        speech_end=np.asarray([b for _, b in speech_intervals], dtype=np.float64),
        silence_start=np.asarray([a for a, _ in silences], dtype=np.float64),
        silence_end=np.asarray([b for _, b in silences], dtype=np.float64),
        words=np.asarray([w.phone for w in words], dtype="<U16"),
        word_start=np.asarray([w.start for w in words], dtype=np.float64),
        word_end=np.asarray([w.end for w in words], dtype=np.float64),
    )
    files = {
        "video": f"clips/{spec.id}/video.mkv",
        "audio": f"clips/{spec.id}/audio.wav",
        "identity": "identity.png",
        "annotations": f"clips/{spec.id}/truth.npz",
    }
    return {
        **{k: v for k, v in asdict(spec).items() if k != "seed"},
        "text": " ".join(spec.words),
        "n_frames": n_frames,
        "n_blinks": len(blink_onsets),
        "n_bilabial_events": len(events),
        "n_brow_raises": len(brow_peaks),
        "files": files,
        "sha256": {k: sha256_file(out_dir / v) for k, v in files.items() if k != "identity"},
    }


def render_frame(
    aperture: float, eye_openness: float, motion: np.ndarray, brow_lift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """One frame of the face in a planted state: (pixels, its 68 landmarks)."""
    template = F.load_template(SIZE)
    neutral = np.concatenate([template.landmarks, template.anchors, template.border])
    posed = C.pose_face(template, aperture, eye_openness, motion, brow_lift)
    frame = F.piecewise_affine_warp(template.image, neutral, posed, template.triangles)
    return _paint_mouth_cavity(frame, posed[:68], aperture), posed[:68]


def identity_frame() -> tuple[np.ndarray, np.ndarray]:
    """The identity image: the ground truth's own rendering at rest (lips together as in a pause,
    eyes open, head neutral), so a model animating it starts where the ground truth rests.

    The raw photo would not do: the astronaut smiles with teeth showing (aperture 0.16, above the
    0.15 an open mouth is judged by), while every clip rests closed."""
    return render_frame(C.REST_APERTURE, 1.0, C.NEUTRAL_MOTION)


def _with_pause(utterance, before_word: int, seconds: float, rate: int):
    """The utterance with `seconds` of silence spliced in at the phone boundary nearest the start of word
    `before_word`: (audio, phones, words, cut time in the original utterance), later events shifted."""
    start = utterance.words[before_word].start
    cut = min((p.start for p in utterance.phones), key=lambda t: abs(t - start))
    at = int(round(cut * rate))
    fade = int(round(FADE_SECONDS * rate))
    head, tail = utterance.audio[:at].astype(np.float32), utterance.audio[at:].astype(np.float32)
    head[-fade:] *= np.linspace(1.0, 0.0, min(fade, head.size), dtype=np.float32)
    tail[:fade] *= np.linspace(0.0, 1.0, min(fade, tail.size), dtype=np.float32)
    audio = np.concatenate([head, np.zeros(int(round(seconds * rate)), np.float32), tail])

    def shift(events):
        return tuple(
            type(e)(e.phone, e.start + seconds * (e.start >= cut - 1e-9), e.end + seconds * (e.end > cut + 1e-9))
            for e in events
        )

    return audio, shift(utterance.phones), shift(utterance.words), cut


def _gaps(intervals, duration: float) -> tuple[tuple[float, float], ...]:
    """The complement of sorted, disjoint intervals within [0, duration)."""
    out, t = [], 0.0
    for a, b in intervals:
        if a > t:
            out.append((t, a))
        t = max(t, b)
    if t < duration:
        out.append((t, duration))
    return tuple(out)


def _ragged(groups) -> np.ndarray:
    """Frames of each event as one int array, events separated by -1 (npz holds no lists)."""
    flat: list[int] = []
    for g in groups:
        flat += list(g) + [-1]
    return np.asarray(flat, dtype=np.int64)


def _paint_mouth_cavity(frame: np.ndarray, lm: np.ndarray, aperture: float) -> np.ndarray:
    """Darken the inner-lip polygon so an open mouth reads as an opening, not stretched teeth."""
    if aperture <= 1e-6:
        return frame
    cover = F.polygon_coverage(lm[F.INNER_LIP_RING], frame.shape[:2])[..., None] * CAVITY_OPACITY
    blended = frame.astype(np.float64) * (1 - cover) + CAVITY_RGB * cover
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def build(out_dir: Path, clips_per_speaker: int = CLIPS_PER_SPEAKER, workers: int | None = None, progress=None) -> dict:
    """Build into a temporary folder and rename it into place: a crash never leaves half a set."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + f".partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    identity, identity_landmarks = identity_frame()
    write_image(tmp / "identity.png", identity)
    specs = clip_specs(clips_per_speaker)
    workers = workers or min(len(specs), os.cpu_count() or 1)
    entries: dict[str, dict] = {}
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, max_tasks_per_child=1)
    try:
        futures = [pool.submit(render_clip, spec, tmp) for spec in specs]
        for future in as_completed(futures):
            entry = future.result()
            entries[entry["id"]] = entry
            if progress:
                progress(entry["id"])
    except BaseException:  # Ctrl-C / SIGTERM or a failed clip: nothing half-built is kept, queued clips are dropped
        stop_pool(pool)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    pool.shutdown()
    clips = [entries[s.id] for s in specs]
    identity_sha = sha256_file(tmp / "identity.png")
    for c in clips:
        c["sha256"]["identity"] = identity_sha
        c["fingerprint"] = sha256_json(c["sha256"])
    manifest = {
        "protocol": "mini",
        "version": VERSION,
        "fps": FPS,
        "size": [SIZE, SIZE],
        "sample_rate": SAMPLE_RATE,
        "seed": SEED,
        "description": "Synthetic GRID-grammar talking heads: skimage astronaut photo warped by planted "
        "landmarks (3-D head motion, blinks, eyebrow raises); speech and phone timings from libespeak-ng, "
        "with silences before, inside and after the sentence.",
        "built_with": {p: version(p) for p in ("numpy", "scipy", "scikit-image", "pillow", "av", "espeakng-loader")},
        "identity": {
            "file": "identity.png",
            "aperture": round(C.aperture_of(identity_landmarks), 6),
            "eye_openness": 1.0,
            "head_motion": C.NEUTRAL_MOTION.tolist(),
            "rule": "a frame of the ground truth's rendering at rest: lips together (pause aperture), "
            "eyes open, head neutral",
        },
        "clips": clips,
        "fingerprint": clip_list_fingerprint((c["id"], c["fingerprint"]) for c in clips),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return manifest
