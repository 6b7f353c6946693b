"""Speech with exact phone timings, synthesised offline by libespeak-ng (espeakng-loader).

The synthesiser reports each phoneme's start in the audio as it renders it, so the mini
protocol knows its phone boundaries exactly — no forced aligner needed.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass

import numpy as np
from scipy.signal import resample_poly

from benchmark.core.types import PhoneEvent

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_EVENT_END_OF_LIST = 0
_EVENT_WORD = 1
_EVENT_PHONEME = 7
_PARAM_RATE = 1
_POS_CHARACTER = 1
_CHARS_UTF8 = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    # espeak_EVENT from speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Utterance:
    audio: np.ndarray  # float32 mono in [-1, 1] at `sample_rate`
    sample_rate: int
    phones: tuple[PhoneEvent, ...]  # espeak phoneme mnemonics; "_" is a pause
    words: tuple[PhoneEvent, ...] = ()  # each word of the text with its [start, end) in seconds


class _Espeak:
    """One process-wide libespeak-ng instance (the C library keeps global state)."""

    _lock = threading.Lock()
    _instance: "_Espeak | None" = None

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.native_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), _INITIALIZE_PHONEME_EVENTS
        )
        if self.native_rate <= 0:
            raise RuntimeError("libespeak-ng failed to initialise (espeakng-loader data missing?)")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        self._words: list[int] = []
        self._callback = _Callback(self._on_synth)  # keep a reference: C holds only the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    @classmethod
    def get(cls) -> "_Espeak":
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def _on_synth(self, wav, n_samples, events) -> int:
        if n_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_END_OF_LIST:
            if events[i].type == _EVENT_PHONEME:
                self._events.append((events[i].sample, events[i].id.string.decode("utf-8", "replace")))
            elif events[i].type == _EVENT_WORD:
                self._words.append(events[i].sample)
            i += 1
        return 0

    def synthesise(
        self, text: str, voice: str, words_per_minute: int
    ) -> tuple[np.ndarray, list[tuple[int, str]], list[int]]:
        with self._lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice named {voice!r}")
            self.lib.espeak_SetParameter(_PARAM_RATE, int(words_per_minute), 0)
            self._chunks, self._events, self._words = [], [], []
            data = text.encode("utf-8") + b"\0"
            self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self.lib.espeak_Synchronize()
            pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return pcm, list(self._events), list(self._words)


def synthesise(text: str, voice: str, words_per_minute: int, sample_rate: int = 16000) -> Utterance:
    """Speak `text`; return audio at `sample_rate` and each phone's [start, end) in seconds."""
    engine = _Espeak.get()
    pcm, events, word_starts = engine.synthesise(text, voice, words_per_minute)
    native = engine.native_rate
    audio = resample_poly(pcm.astype(np.float64) / 32768.0, sample_rate, native).astype(np.float32)
    duration = len(pcm) / native
    phones = []
    for k, (sample, name) in enumerate(events):
        end_sample = events[k + 1][0] if k + 1 < len(events) else len(pcm)
        start, end = sample / native, min(end_sample / native, duration)
        if end > start:
            phones.append(PhoneEvent(name, start, end))
    # a word ends where the next starts; the last ends where its last phone before the final pause ends
    speech_end = max((p.end for p in phones if not p.phone.startswith("_")), default=duration)
    names = text.split()
    ends = [s / native for s in word_starts[1:]] + [speech_end]
    words = tuple(PhoneEvent(name, s / native, e) for name, s, e in zip(names, word_starts, ends))
    return Utterance(audio, sample_rate, tuple(phones), words)
