"""Voice activity: speech intervals in seconds, from silero-vad's packaged model, or injected for tests.

silero-vad 6.2.3 (MIT) ships its TorchScript model inside the wheel, so nothing is downloaded. It is run
with `get_speech_timestamps`' own defaults (recorded in `SILERO_DEFAULTS` and in `version()`), as THEval
runs it: threshold 0.5, 16 kHz, 512-sample windows, speech ≥ 250 ms, silences ≥ 100 ms, 30 ms padding,
seconds rounded to 0.1 s (`return_seconds=True`, time_resolution 1).

Importing silero_vad calls torch.set_num_threads(1) for the whole process (its model module does it at
import); `SileroVad` restores the thread count the process had, so other metrics keep their threads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from benchmark.core.errors import BenchError
from benchmark.perception.base import package_version

SILERO_RATE = 16000
SILERO_DEFAULTS = {
    "threshold": 0.5,
    "sampling_rate": SILERO_RATE,
    "min_speech_duration_ms": 250,
    "min_silence_duration_ms": 100,
    "speech_pad_ms": 30,
    "return_seconds": True,
    "time_resolution": 1,
}

Intervals = list[tuple[float, float]]


class VadBackend(ABC):
    name: str = "vad"

    @abstractmethod
    def speech_intervals(self, audio: np.ndarray, rate: int) -> Intervals:
        """Mono audio (float, [-1, 1]) at `rate` -> sorted [(start_s, end_s)] of speech."""

    def version(self) -> str:
        return self.name


class FixedIntervals(VadBackend):
    """Speech intervals given up front (tests, or a protocol's planted truth): the audio is not read."""

    name = "fixed"

    def __init__(self, intervals: Intervals):
        self.intervals = [(float(a), float(b)) for a, b in intervals]

    def speech_intervals(self, audio: np.ndarray, rate: int) -> Intervals:
        return list(self.intervals)

    def version(self) -> str:  # the intervals themselves: a cache must not mix two injections
        return "fixed" + "".join(f"[{a:g},{b:g}]" for a, b in self.intervals)


class SileroVad(VadBackend):
    name = "silero"

    def __init__(self) -> None:
        import torch

        threads = torch.get_num_threads()
        try:
            from silero_vad import get_speech_timestamps, load_silero_vad
        except ImportError as exc:
            raise BenchError(
                "voice activity detection needs silero-vad (its model ships in the wheel)",
                hint="pip install 'silero-vad>=6.2,<7'",
            ) from exc
        finally:
            torch.set_num_threads(threads)  # silero's import set it to 1 for the whole process
        self._timestamps = get_speech_timestamps
        self._model = load_silero_vad()  # the packaged .jit, no download

    def version(self) -> str:
        return self.describe()

    @staticmethod
    def describe() -> str:
        """The version string without loading the model (what a metric's backend id records)."""
        params = ",".join(f"{k}={v}" for k, v in SILERO_DEFAULTS.items())
        return f"silero-vad-{package_version('silero-vad')}-jit({params})"

    def speech_intervals(self, audio: np.ndarray, rate: int) -> Intervals:
        import torch

        from benchmark.core.media import resample_audio

        wav = resample_audio(np.asarray(audio, dtype=np.float64), int(rate), SILERO_RATE).astype(np.float32)
        if wav.size == 0:
            return []
        # one thread: silero runs ~100 tiny steps a clip, and with 2 threads on a busy 2-core machine a 4 s clip
        # took 2 s instead of 0.05 s (measured); the process's count is put back for the other metrics
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with torch.inference_mode():
                found = self._timestamps(torch.from_numpy(np.ascontiguousarray(wav)), self._model, **SILERO_DEFAULTS)
        finally:
            torch.set_num_threads(threads)
        return [(float(seg["start"]), float(seg["end"])) for seg in found]


# VAD backends by name: what the `speech` feature's `vad` parameter chooses. Tests inject intervals by
# adding a name here (e.g. monkeypatch.setitem(VAD_BACKENDS, "planted", lambda: FixedIntervals([...]))).
VAD_BACKENDS = {"silero": SileroVad}
_BUILT: dict = {}


def get_vad(name: str) -> VadBackend:
    """The VAD backend `name`, built once per process (silero's model loads in ~0.1 s, once)."""
    if name not in VAD_BACKENDS:
        raise BenchError(f"unknown voice activity detector {name!r}", hint=f"known: {', '.join(VAD_BACKENDS)}")
    factory = VAD_BACKENDS[name]
    if _BUILT.get(name, (None,))[0] is not factory:  # a replaced factory (a test's injection) is built anew
        _BUILT[name] = (factory, factory())
    return _BUILT[name][1]


def vad_version(name: str) -> str:
    """The backend's version; silero's is known without loading its model."""
    return SileroVad.describe() if VAD_BACKENDS.get(name) is SileroVad else get_vad(name).version()


def speech_frame_mask(intervals: Intervals, fps: float, n_frames: int) -> np.ndarray:
    """THEval's frame rule: frames int(start·fps) … int(end·fps) inclusive are speech, clipped to the video."""
    mask = np.zeros(n_frames, dtype=bool)
    for start, end in intervals:
        a, b = int(start * fps), int(end * fps)
        mask[max(a, 0) : max(min(b + 1, n_frames), 0)] = True
    return mask
