"""The checks `bench prepare` runs on a corpus's audio and alignments, on synthesised inputs."""

import math

import numpy as np
import pytest

from protocols.source_checks import (
    ALIGN_END_MARGIN_S,
    MAX_CLIPPED_FRACTION,
    SILENCE_RMS_DBFS,
    SourceProblem,
    check_audio,
    check_timings,
    rms_dbfs,
)


@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.01, 1e-4])
def test_rms_level_of_a_sine_is_its_amplitude_over_root_two(amplitude):
    t = np.arange(16000) / 16000
    sine = amplitude * np.sin(2 * np.pi * 100 * t)  # whole periods
    assert rms_dbfs(sine) == pytest.approx(20 * math.log10(amplitude / math.sqrt(2)), abs=1e-6)
    assert rms_dbfs(np.zeros(100)) == -math.inf


def _noise_at(level_dbfs: float, n: int = 50000) -> np.ndarray:
    noise = np.random.default_rng(1).standard_normal(n)
    return noise / np.sqrt(np.mean(noise**2)) * 10 ** (level_dbfs / 20)


@pytest.mark.parametrize(
    "level, silent", [(-90.0, True), (SILENCE_RMS_DBFS - 1, True), (SILENCE_RMS_DBFS + 1, False), (-20.0, False)]
)
def test_silence_is_an_rms_below_the_threshold(level, silent):
    audio = _noise_at(level)
    if silent:
        with pytest.raises(SourceProblem, match=f"silent audio: RMS {level:.1f} dBFS is below -60 dBFS") as err:
            check_audio(audio)
        assert err.value.kind == "silent-audio"
    else:
        check_audio(audio)
    with pytest.raises(SourceProblem, match="RMS -inf dBFS"):
        check_audio(np.zeros(1000))


@pytest.mark.parametrize(
    "fraction, peak, clipped",
    [
        (MAX_CLIPPED_FRACTION / 2, 1.0, False),
        (MAX_CLIPPED_FRACTION * 1.2, 1.0, True),
        (0.05, -0.9995, True),
        (0.05, 0.998, False),
    ],
)
def test_clipping_is_too_many_samples_at_full_scale(fraction, peak, clipped):
    audio = _noise_at(-30.0, 100000)
    audio[np.random.default_rng(2).choice(audio.size, int(round(fraction * audio.size)), replace=False)] = peak
    if clipped:
        with pytest.raises(SourceProblem, match=rf"clipped audio: {fraction:.2%} of samples at full scale") as err:
            check_audio(audio)
        assert err.value.kind == "clipped-audio"
    else:
        check_audio(audio)


GOOD = [(0.0, 0.5, "sil"), (0.5, 0.9, "bin"), (0.9, 0.9, "sp"), (0.9, 1.3, "blue"), (1.3, 3.0, "sil")]


@pytest.mark.parametrize(
    "intervals, match",
    [
        ([], "empty alignment"),
        ([(0.0, 3.0, "sil")], "empty alignment"),
        ([(0.0, 1.0, "_"), (1.0, 3.0, "sp")], "empty alignment"),
        ([(-0.1, 0.5, "sil"), *GOOD[1:]], "negative time in entry 1"),
        ([GOOD[0], (0.9, 0.5, "bin"), *GOOD[2:]], "entry 2 \\(bin\\) ends at 0.5 s, before its start 0.9 s"),
        ([*GOOD[:3], (0.7, 1.3, "blue"), GOOD[4]], "times go back at entry 4"),
    ],
)
def test_unusable_alignments_are_named(intervals, match):
    with pytest.raises(SourceProblem, match=match) as err:
        check_timings(intervals)
    assert err.value.kind in ("empty-alignment", "malformed-alignment")


@pytest.mark.parametrize(
    "overshoot, ok", [(0.0, True), (ALIGN_END_MARGIN_S - 0.01, True), (ALIGN_END_MARGIN_S + 0.01, False), (2.0, False)]
)
def test_an_alignment_may_end_only_a_margin_past_its_audio(overshoot, ok):
    check_timings(GOOD)  # no duration known: only the times themselves are checked
    duration = GOOD[-1][1] - overshoot
    if ok:
        check_timings(GOOD, duration)
    else:
        with pytest.raises(
            SourceProblem,
            match=f"ends at 3.00 s, beyond the audio's {duration:.2f} s by more than {ALIGN_END_MARGIN_S:g} s",
        ):
            check_timings(GOOD, duration)
