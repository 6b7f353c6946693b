"""Voice activity: silero-vad from its wheel, its defaults, the process's thread count left alone,
intervals injectable, and THEval's interval-to-frame rule."""

import subprocess
import sys

import numpy as np
import pytest

from benchmark.perception.vad import SILERO_DEFAULTS, FixedIntervals, SileroVad, speech_frame_mask


@pytest.fixture(scope="module")
def vad():
    pytest.importorskip("silero_vad")
    return SileroVad()


def test_silence_has_no_speech_and_the_defaults_are_recorded(vad):
    assert vad.speech_intervals(np.zeros(32000, np.float32), 16000) == []
    assert vad.speech_intervals(np.zeros(0, np.float32), 16000) == []
    assert "threshold=0.5" in vad.version() and "speech_pad_ms=30" in vad.version()
    assert SILERO_DEFAULTS["min_silence_duration_ms"] == 100 and SILERO_DEFAULTS["time_resolution"] == 1


def test_synthesised_speech_is_found_where_it_was_placed(vad):
    """espeak speech placed 0.6 s into 48 kHz audio (resampled for silero): one interval that starts
    and ends within 0.15 s of the placed speech (silero pads 30 ms and rounds to 0.1 s)."""
    from benchmark.core.media import resample_audio
    from protocols.mini.speech import synthesise

    speech = synthesise("bin blue at f two now", "en-us", 150, 16000).audio
    audio = np.zeros(int(1.2 * 16000) + speech.size, np.float32)
    audio[int(0.6 * 16000) : int(0.6 * 16000) + speech.size] = speech
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    first, last = loud[0] / 16000, loud[-1] / 16000
    found = vad.speech_intervals(resample_audio(audio, 16000, 48000), 48000)
    assert found, "no speech found"
    assert abs(found[0][0] - first) < 0.15 and abs(found[-1][1] - last) < 0.15, (found, first, last)
    assert all(round(a, 1) == a and round(b, 1) == b for a, b in found)


def test_loading_silero_keeps_the_process_thread_count():
    """silero_vad's import calls torch.set_num_threads(1) for the whole process: SileroVad undoes it."""
    pytest.importorskip("silero_vad")
    code = (
        "import torch; torch.set_num_threads(2); from benchmark.perception.vad import SileroVad; "
        "SileroVad(); print(torch.get_num_threads())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2"


def test_injected_intervals_and_the_frame_rule():
    backend = FixedIntervals([(0.5, 1.5)])
    assert backend.speech_intervals(np.zeros(10), 16000) == [(0.5, 1.5)]
    mask = speech_frame_mask([(0.5, 1.5), (3.9, 9.0)], 25.0, 100)
    # int(0.5·25) = 12 … int(1.5·25) = 37 inclusive; the second interval clipped at the last frame
    assert np.flatnonzero(mask).tolist() == list(range(12, 38)) + list(range(97, 100))


def test_the_detector_runs_on_one_thread_and_gives_the_process_its_count_back(vad, monkeypatch):
    """silero's ~100 tiny steps a clip took 2 s instead of 0.05 s with two threads on a busy 2-core
    machine: it runs on one, and the other metrics keep the process's count."""
    import torch

    seen = []
    real = vad._timestamps
    monkeypatch.setattr(vad, "_timestamps", lambda *a, **k: (seen.append(torch.get_num_threads()), real(*a, **k))[1])
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        vad.speech_intervals(np.zeros(16000, np.float32), 16000)
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
