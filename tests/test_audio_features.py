"""Adapter audio front-ends against their references (librosa for Wav2Lip's mel, python_speech_features for MFCC)."""

import numpy as np
import pytest

from adapters.audio_features import mfcc_windows, slaney_mel_filterbank, to_16k, wav2lip_chunks, wav2lip_mel, frame_f0


@pytest.fixture(scope="module")
def speech(mini):
    clip = mini.clips()[0]
    return to_16k(clip.load_audio(), clip.sample_rate)


def test_wav2lip_mel_matches_librosa_pipeline(speech):
    librosa = pytest.importorskip("librosa")  # installed by the test extras: this skip never happens in CI
    y = speech.astype(np.float32)
    emphasised = np.append(y[:1], y[1:] - 0.97 * y[:-1])
    spec = np.abs(librosa.stft(y=emphasised, n_fft=800, hop_length=200, win_length=800, pad_mode="reflect"))
    mel = librosa.filters.mel(sr=16000, n_fft=800, n_mels=80, fmin=55, fmax=7600)
    db = 20 * np.log10(np.maximum(1e-5, mel @ spec)) - 20
    reference = np.clip(8 * (db + 100) / 100 - 4, -4, 4)
    ours = wav2lip_mel(speech)
    assert ours.shape == reference.shape == (80, 1 + len(speech) // 200)
    assert np.abs(ours - reference).max() < 1e-4  # librosa works in float32
    assert np.abs(slaney_mel_filterbank(16000, 800, 80, 55.0, 7600.0) - mel).max() < 1e-7


def test_wav2lip_chunks_follow_the_official_indexing():
    mel = np.arange(80 * 100, dtype=np.float32).reshape(80, 100) % 100
    chunks = wav2lip_chunks(mel, 40, 25.0)
    starts = [int(c[0, 0]) for c in chunks]
    assert starts[:4] == [0, 3, 6, 9]  # int(i * 3.2)
    assert starts[-1] == 100 - 16  # past the end: the last 16 frames, as the official loop does
    assert chunks.shape == (40, 80, 16)


def test_mfcc_windows_are_python_speech_features_centred_on_each_frame(speech):
    from python_speech_features import mfcc

    feats = mfcc(speech, samplerate=16000, winlen=0.025, winstep=0.01, numcep=13)[:, 1:]
    windows = mfcc_windows(speech, 50, 25.0)
    assert windows.shape == (50, 12, 28)
    # frame 10 is at 0.4 s = MFCC step 40: its window covers steps 26..53
    np.testing.assert_allclose(windows[10], feats[26:54].T, rtol=1e-6)


def test_f0_of_a_pure_tone():
    t = np.arange(16000) / 16000
    f0 = frame_f0(0.5 * np.sin(2 * np.pi * 200 * t))
    voiced = f0[5:-5]
    assert np.all(np.abs(voiced - 200) < 5)
    assert np.all(frame_f0(np.zeros(16000)) == 0)
