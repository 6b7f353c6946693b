"""Small fake GRID and TCD-TIMIT corpora in their published layouts, made from the mini clips,
so the real preparation code runs on real files without the corpora."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from benchmark.core.media import write_wav


def _canvas(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    out = np.full((len(frames), height, width, 3), 128, dtype=np.uint8)
    y, x = (height - frames.shape[1]) // 2, (width - frames.shape[2]) // 2
    out[:, y : y + frames.shape[1], x : x + frames.shape[2]] = frames
    return out


def _encode(
    path: Path, frames: np.ndarray, fps: Fraction, codec: str, audio: np.ndarray | None = None, audio_rate: int = 48000
) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=fps)
        video.height, video.width, video.pix_fmt = frames.shape[1], frames.shape[2], "yuv420p"
        video.bit_rate = 6_000_000
        sound = container.add_stream("aac", rate=audio_rate) if audio is not None else None
        if sound is not None:
            sound.layout = "mono"
        for image in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            frame = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
            frame.sample_rate = audio_rate
            for packet in sound.encode(frame):
                container.mux(packet)
            for packet in sound.encode():
                container.mux(packet)


def _grid_align(truth: dict) -> str:
    units = 25000
    lines, t = [], 0.0
    for word, start, end in zip(truth["words"], truth["word_start"], truth["word_end"]):
        lines.append(f"{int(round(t * units))} {int(round(start * units))} sil")
        lines.append(f"{int(round(start * units))} {int(round(end * units))} {str(word).lower()}")
        t = end
    lines.append(f"{int(round(t * units))} {int(round(t * units)) + 12500} sil")
    return "\n".join(lines) + "\n"


def make_fake_grid(mini, root: Path, speakers=("s2", "s4"), per_speaker: int = 2, broken: bool = True) -> dict:
    """GRID layout: s{N}/{stem}.mpg (360x288 MPEG-1), audio_25k/s{N}/{stem}.wav (25 kHz),
    s{N}/align/{stem}.align. `broken` adds one corrupt video, one video without its wav, and
    (add_source_problems) clips whose audio or alignment is unfit."""
    clips = mini.clips()
    made = {"ok": [], "corrupt": None, "missing_wav": None}
    for k, speaker in enumerate(speakers):
        for j in range(per_speaker):
            clip = clips[k * per_speaker + j]
            stem = clip.id.split("_")[1]
            _encode(root / speaker / f"{stem}.mpg", _canvas(clip.load_frames(), 288, 360), Fraction(25), "mpeg1video")
            write_wav(root / "audio_25k" / speaker / f"{stem}.wav", resample_poly(clip.load_audio(), 25, 16), 25000)
            (root / speaker / "align").mkdir(parents=True, exist_ok=True)
            (root / speaker / "align" / f"{stem}.align").write_text(_grid_align(clip.load_annotations()))
            made["ok"].append(f"{speaker}_{stem}")
    if not broken:
        return made
    speaker = speakers[0]
    corrupt = root / speaker / "bbaz9n.mpg"
    corrupt.write_bytes(b"\x00\x00\x01\xba" + b"not mpeg data " * 200)
    write_wav(root / "audio_25k" / speaker / "bbaz9n.wav", resample_poly(clips[0].load_audio(), 25, 16), 25000)
    (root / speaker / "align" / "bbaz9n.align").write_text(_grid_align(clips[0].load_annotations()))
    made["corrupt"] = corrupt
    extra = clips[-1]
    _encode(root / speaker / "lwaz1s.mpg", _canvas(extra.load_frames(), 288, 360), Fraction(25), "mpeg1video")
    (root / speaker / "align" / "lwaz1s.align").write_text(_grid_align(extra.load_annotations()))
    made["missing_wav"] = root / speaker / "lwaz1s.mpg"
    made.update(add_source_problems(mini, root, speakers[-1]))
    return made


def add_source_problems(mini, root: Path, speaker: str) -> dict:
    """Clips of `speaker` with a good video but a silent wav (-80 dBFS noise), a clipped wav, an
    alignment with only silences, one whose times go back, and one ending 2 s after its audio."""
    clip = mini.clips()[0]
    speech = resample_poly(clip.load_audio(), 25, 16)
    good_align = _grid_align(clip.load_annotations())
    words = [line.split() for line in good_align.splitlines()]
    words[3][0] = str(int(words[1][0]) - 100)  # the second word starts inside the first: times go back
    quiet = np.random.default_rng(0).standard_normal(speech.size) * 1e-4
    cases = {  # stem: (wav, alignment)
        "silent": (quiet, good_align),
        "clipped": (np.clip(speech * 4.0, -1.0, 1.0), good_align),
        "emptyalign": (speech, "0 30000 sil\n30000 75000 sp\n"),
        "backwards": (speech, "\n".join(" ".join(w) for w in words) + "\n"),
        "toolong": (
            speech,
            good_align.rstrip("\n") + f"\n{words[-1][1]} {round((speech.size / 25000 + 2) * 25000)} sil\n",
        ),
    }
    video = root / speaker / "silent.mpg"
    _encode(video, _canvas(clip.load_frames(), 288, 360), Fraction(25), "mpeg1video")
    made = {}
    for stem, (audio, align) in cases.items():
        if stem != "silent":
            (root / speaker / f"{stem}.mpg").write_bytes(video.read_bytes())
        write_wav(root / "audio_25k" / speaker / f"{stem}.wav", audio, 25000)
        (root / speaker / "align" / f"{stem}.align").write_text(align)
        made[stem] = f"{speaker}_{stem}"
    return made


def make_fake_tcd_timit(mini, root: Path, volunteers=("08F", "18M"), per_volunteer: int = 2) -> list[str]:
    """TCD-TIMIT layout: volunteers/NNX/Clips/straightcam/{stem}.mp4 (29.97 fps, h264 + AAC) and
    volunteer_labelfiles.mlf (HTK, 100 ns units, one phone label repeated back to back)."""
    clips = mini.clips()
    mlf, made = ["#!MLF!#"], []
    ntsc = Fraction(30000, 1001)
    for k, volunteer in enumerate(volunteers):
        for j in range(per_volunteer):
            clip = clips[k * per_volunteer + j + 4]
            stem = ["sa1", "sx12", "si100", "sx99"][j]
            frames = clip.load_frames()
            n_out = int(round(len(frames) / 25 * float(ntsc)))
            frames = frames[np.clip(np.round(np.arange(n_out) * 25 / float(ntsc)).astype(int), 0, len(frames) - 1)]
            audio = resample_poly(clip.load_audio(), 3, 1)
            _encode(
                root / "volunteers" / volunteer / "Clips" / "straightcam" / f"{stem}.mp4",
                _canvas(frames, 360, 640),
                ntsc,
                "libx264",
                audio,
                48000,
            )
            truth = clip.load_annotations()
            mlf.append(f'"/corpus/volunteers/{volunteer}/Clips/straightcam/{stem}.rec"')
            for phone, start, end in zip(truth["phones"], truth["phone_start"], truth["phone_end"]):
                name = str(phone).replace("'", "").replace(",", "").rstrip(":").lower() or "sil"
                mid = int(round((start + end) / 2 * 1e7))
                if name == "m":  # TCD-TIMIT labels sometimes repeat a phone back to back
                    mlf.append(f"{int(round(start * 1e7))} {mid} m")
                    mlf.append(f"{mid} {int(round(end * 1e7))} m")
                else:
                    mlf.append(f"{int(round(start * 1e7))} {int(round(end * 1e7))} {name}")
            mlf.append(".")
            made.append(f"{volunteer}_{stem}")
    (root / "volunteer_labelfiles.mlf").write_text("\n".join(mlf) + "\n")
    return made


def _encode_audio(path: Path, audio: np.ndarray, rate: int = 48000) -> None:
    """An audio-only AAC file (MEAD ships its speech as .m4a beside the videos)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        sound = container.add_stream("aac", rate=rate)
        sound.layout = "mono"
        frame = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in [*sound.encode(frame), *sound.encode()]:
            container.mux(packet)


def _at_30_fps(frames: np.ndarray) -> np.ndarray:
    return frames[np.clip(np.round(np.arange(int(len(frames) * 1.2)) / 1.2).astype(int), 0, len(frames) - 1)]


def make_fake_mead(mini, root: Path, speakers=("M003", "W009")) -> list[str]:
    """MEAD layout: SPEAKER/video/front/EMOTION/level_N/NNN.mp4 (30 fps, no audio track) with the
    speech apart in SPEAKER/audio/EMOTION/level_N/NNN.m4a; a side-camera file that must be ignored.
    The second speaker's first take has its audio inside the mp4 and no .m4a (both are accepted)."""
    clips, made = mini.clips(), []
    takes = (("angry", "level_3", "001"), ("neutral", "level_1", "002"))
    for k, speaker in enumerate(speakers):
        for j, (emotion, level, stem) in enumerate(takes):
            clip = clips[2 * k + j]
            frames, audio = _canvas(_at_30_fps(clip.load_frames()), 320, 320), resample_poly(clip.load_audio(), 3, 1)
            inside = k == 1 and j == 0
            _encode(
                root / speaker / "video" / "front" / emotion / level / f"{stem}.mp4",
                frames,
                Fraction(30),
                "libx264",
                audio=audio if inside else None,
            )
            if not inside:
                _encode_audio(root / speaker / "audio" / emotion / level / f"{stem}.m4a", audio)
            made.append(f"{speaker}_{emotion}_{level}_{stem}")
        side = root / speaker / "video" / "left_30" / "angry" / "level_3" / "001.mp4"
        side.parent.mkdir(parents=True, exist_ok=True)
        side.write_bytes(b"not a video; a side view must not be read")
    return made


def make_fake_hdtf(mini, root: Path, seconds: float = 17.0) -> dict[str, int]:
    """HDTF clips as cut from its annotation times: WDA_/WRA_/RD_ NAME_NNN.mp4 at 30 fps with AAC audio.
    The first is `seconds` long (the mini clip looped), longer than the protocol's 15 s; the other
    is one mini clip. Returns clip id -> number of 25 fps frames the source holds."""
    clips, made = mini.clips(), {}
    for name, clip, repeats in (("WDA_JaneExample_000", clips[0], None), ("RD_Radio7_001", clips[1], 1)):
        frames, audio = clip.load_frames(), clip.load_audio()
        repeats = repeats or int(np.ceil(seconds * 25 / len(frames)))
        frames, audio = np.concatenate([frames] * repeats), np.concatenate([audio] * repeats)
        _encode(
            root / name[: name.index("_")] / f"{name}.mp4",
            _canvas(_at_30_fps(frames), 320, 320),
            Fraction(30),
            "libx264",
            audio=resample_poly(audio, 3, 1),
            audio_rate=48000,
        )
        made[name] = len(frames)
    return made
