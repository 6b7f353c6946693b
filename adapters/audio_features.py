"""Audio front-ends of the adapters, each as its model's authors computed it (numpy, no librosa).

- Wav2Lip: 80-bin Slaney mel at 80 frames/s with the official normalisation, cut into 16-frame
  chunks per video frame.
- The latent-trajectory model: 13 MFCCs at 100 Hz (python_speech_features defaults), c0 dropped,
  a 28-step (280 ms) window centred on each video frame.
- MAN: a log-mel window per frame plus F0 and frame energy quantised to 256 one-hot bins.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from benchmark.core.media import resample_audio

MODEL_RATE = 16000


def to_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono float audio at 16 kHz, as every model here was trained on."""
    audio = np.asarray(audio, dtype=np.float64)
    return resample_audio(audio.mean(axis=1) if audio.ndim > 1 else audio, rate, MODEL_RATE)


# ---- Wav2Lip ------------------------------------------------------------------------------

WAV2LIP_HOP, WAV2LIP_FFT, WAV2LIP_MELS, WAV2LIP_STEP = 200, 800, 80, 16


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_hz / f_sp + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp, min_log_hz, logstep = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@lru_cache(maxsize=4)
def slaney_mel_filterbank(rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters on the Slaney mel scale, area-normalised."""
    fft_freqs = np.linspace(0, rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz_slaney(np.linspace(hz_to_mel_slaney(fmin), hz_to_mel_slaney(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def stft_magnitude(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """|STFT| with a periodic Hann window, centred frames and reflect padding -> (1 + n_fft//2, frames)."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    y = np.pad(y, n_fft // 2, mode="reflect")
    n = 1 + (len(y) - n_fft) // hop
    frames = np.lib.stride_tricks.as_strided(y, (n, n_fft), (y.strides[0] * hop, y.strides[0]))
    return np.abs(np.fft.rfft(frames * window, axis=1)).T


def wav2lip_mel(audio_16k: np.ndarray) -> np.ndarray:
    """(80, frames at 80/s) normalised log-mel in [-4, 4], Wav2Lip's hparams."""
    y = np.append(audio_16k[:1], audio_16k[1:] - 0.97 * audio_16k[:-1])  # pre-emphasis
    mel = slaney_mel_filterbank(MODEL_RATE, WAV2LIP_FFT, WAV2LIP_MELS, 55.0, 7600.0) @ stft_magnitude(
        y, WAV2LIP_FFT, WAV2LIP_HOP
    )
    db = 20 * np.log10(np.maximum(1e-5, mel)) - 20
    return np.clip(8 * (db + 100) / 100 - 4, -4, 4)


def wav2lip_chunks(mel: np.ndarray, n_frames: int, fps: float, centred: bool = False) -> np.ndarray:
    """(n_frames, 80, 16): chunk i starts at int(i * 80 / fps) (Wav2Lip) or is centred there;
    chunks past either end are clamped inside the spectrogram."""
    if mel.shape[1] < WAV2LIP_STEP:
        mel = np.pad(mel, ((0, 0), (0, WAV2LIP_STEP - mel.shape[1])), mode="edge")
    last = mel.shape[1] - WAV2LIP_STEP
    offset = WAV2LIP_STEP // 2 if centred else 0
    starts = [min(max(int(i * 80.0 / fps) - offset, 0), last) for i in range(n_frames)]
    return np.stack([mel[:, s : s + WAV2LIP_STEP] for s in starts]).astype(np.float32)


# ---- latent-trajectory model -----------------------------------------------------------------

MFCC_RATE, MFCC_WINDOW = 100, 28


def mfcc_windows(audio_16k: np.ndarray, n_frames: int, fps: float) -> np.ndarray:
    """(n_frames, 12, 28): MFCC c1..c12 at 100 Hz, 28 steps centred on each frame (edges repeated)."""
    from python_speech_features import mfcc

    feats = mfcc(audio_16k, samplerate=MODEL_RATE, winlen=0.025, winstep=1.0 / MFCC_RATE, numcep=13)[:, 1:]
    half = MFCC_WINDOW // 2
    padded = np.pad(feats, ((half, half), (0, 0)), mode="edge")
    centres = np.round(np.arange(n_frames) / fps * MFCC_RATE).astype(int)
    centres = np.clip(centres, 0, len(feats) - 1)
    return np.stack([padded[c : c + MFCC_WINDOW].T for c in centres]).astype(np.float32)


# ---- MAN -------------------------------------------------------------------------------------

MAN_FRAME, MAN_HOP, MAN_BINS = 1024, 256, 256


def frame_f0(audio_16k: np.ndarray, fmin: float = 60.0, fmax: float = 400.0, voicing: float = 0.45) -> np.ndarray:
    """F0 (Hz, 0 = unvoiced) per 1024/256 frame by normalised autocorrelation.

    The MAN paper used PyWorld; this plain estimator stands in for it (documented in adapters/man.py).
    """
    y = np.pad(audio_16k, MAN_FRAME // 2)
    n = 1 + (len(y) - MAN_FRAME) // MAN_HOP
    frames = np.lib.stride_tricks.as_strided(y, (n, MAN_FRAME), (y.strides[0] * MAN_HOP, y.strides[0]))
    frames = frames - frames.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(frames, 2 * MAN_FRAME, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :MAN_FRAME]
    lo, hi = int(MODEL_RATE / fmax), int(MODEL_RATE / fmin)
    peak = lo + np.argmax(ac[:, lo:hi], axis=1)
    strength = ac[np.arange(n), peak] / np.maximum(ac[:, 0], 1e-12)
    return np.where(strength > voicing, MODEL_RATE / peak, 0.0)


def frame_energy(audio_16k: np.ndarray) -> np.ndarray:
    """L2 norm of each STFT frame's magnitude (the paper's energy)."""
    return np.linalg.norm(stft_magnitude(audio_16k, MAN_FRAME, MAN_HOP), axis=0)


def quantise(values: np.ndarray, lo: float, hi: float, bins: int = MAN_BINS) -> np.ndarray:
    return np.clip(((values - lo) / (hi - lo) * (bins - 1)).round(), 0, bins - 1).astype(np.int64)


def man_features(audio_16k: np.ndarray, n_frames: int, fps: float) -> dict[str, np.ndarray]:
    """Per video frame: `mel` (n, 80, 16) window, `pitch` and `energy` bin indices (n,)."""
    mel = wav2lip_chunks(wav2lip_mel(audio_16k), n_frames, fps, centred=True)
    feature_index = np.clip(np.round(np.arange(n_frames) / fps * MODEL_RATE / MAN_HOP).astype(int), 0, None)
    f0, energy = frame_f0(audio_16k), frame_energy(audio_16k)
    feature_index = np.minimum(feature_index, len(f0) - 1)
    return {
        "mel": mel,
        "pitch": quantise(f0[feature_index], 0.0, 500.0),
        "energy": quantise(np.log1p(energy[feature_index]), 0.0, 8.0),
    }
