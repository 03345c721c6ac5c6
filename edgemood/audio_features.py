"""Acoustic features, 74 per 10 ms frame, in numpy alone.

No librosa, scipy or numba at run time: librosa's numba JIT costs seconds of cold start on a
Raspberry Pi, and pyin alone is 300-900 ms per clip. Every feature here is a vectorised numpy
version of a standard definition (librosa's, where it has one; the tests check the two agree).

The 74, in order (``AUDIO_FEATURES``):
- prosody (4): log2 f0, voicing confidence, Δ log2 f0, harmonics-to-noise ratio. Pitch level,
  movement and voice quality carry arousal (anger and joy raise and vary f0; sadness lowers it).
- energy (3): log RMS, Δ log RMS, zero-crossing rate. Loudness and its dynamics: arousal again.
- spectral shape (7): centroid, bandwidth, 85 % roll-off, flatness, flux, slope, entropy. Vocal
  effort tilts and brightens the spectrum; breathy or tense voices change flatness and entropy.
- spectral contrast (7): peak-to-valley per octave band, tonal vs noisy energy per band.
- MFCC 1-20 (20) and their Δ (20), Δ² of MFCC 1-13 (13): the spectral envelope and its motion,
  the workhorse of speech emotion features. c0 is left out: it duplicates log RMS.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

# Re-exported: the rate the decoder delivers is the one these features are computed at.
from edgemood.decode import SAMPLE_RATE

HOP = 160  # 10 ms
FRAME_RATE = SAMPLE_RATE / HOP
N_FFT = 512
WIN = 400  # 25 ms
N_MELS = 64
N_MFCC = 20
PITCH_FRAME = 1024  # 64 ms: two periods of the lowest pitch tracked
F0_MIN, F0_MAX = 60.0, 500.0
YIN_THRESHOLD = 0.15
CONTRAST_BANDS = 6  # octaves above 200 Hz, plus the band below: 7 values

AUDIO_FEATURES: tuple[str, ...] = (
    "f0_log2",
    "voicing",
    "f0_log2_delta",
    "hnr_db",
    "log_rms",
    "log_rms_delta",
    "zcr",
    "spectral_centroid",
    "spectral_bandwidth",
    "spectral_rolloff",
    "spectral_flatness",
    "spectral_flux",
    "spectral_slope",
    "spectral_entropy",
    *(f"contrast_{i}" for i in range(CONTRAST_BANDS + 1)),
    *(f"mfcc_{i}" for i in range(1, N_MFCC + 1)),
    *(f"mfcc_delta_{i}" for i in range(1, N_MFCC + 1)),
    *(f"mfcc_delta2_{i}" for i in range(1, 14)),
)


def _frames(samples: np.ndarray, length: int) -> np.ndarray:
    """Centred frames [n, length] every HOP samples (reflect padding, like librosa center=True)."""
    count = 1 + len(samples) // HOP
    pad = length // 2
    mode = "reflect" if len(samples) > pad else "constant"
    padded = np.pad(samples, (pad, pad + length), mode=mode)
    view = np.lib.stride_tricks.sliding_window_view(padded, length)[::HOP]
    return view[:count]


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    # A 25 ms periodic Hann window centred in the 512-point FFT frame, as librosa pads it.
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN)
    left = (N_FFT - WIN) // 2
    return np.pad(hann, (left, N_FFT - WIN - left)).astype(np.float32)


@lru_cache(maxsize=1)
def _mel_matrix() -> np.ndarray:
    """Slaney mel filterbank [N_MELS, N_FFT//2+1], area-normalised (librosa's default)."""

    def hz_to_mel(hz):
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel):
        mel = np.asarray(mel, dtype=np.float64)
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    fft_freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    mel_freqs = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    """Orthonormal DCT-II rows 0..N_MFCC [N_MFCC+1, N_MELS]."""
    n = np.arange(N_MELS)
    k = np.arange(N_MFCC + 1)[:, None]
    basis = np.cos(np.pi / N_MELS * (n + 0.5) * k) * np.sqrt(2.0 / N_MELS)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


@lru_cache(maxsize=1)
def _contrast_bands() -> list[tuple[int, int]]:
    """FFT-bin ranges of the contrast bands: below 200 Hz, then octaves up to Nyquist."""
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1)
    edges = [0.0] + [200.0 * 2**i for i in range(CONTRAST_BANDS)] + [SAMPLE_RATE / 2 + 1]
    bands = []
    for low, high in itertools.pairwise(edges):
        index = np.flatnonzero((freqs >= low) & (freqs < high))
        bands.append((int(index[0]), int(index[-1]) + 1))
    return bands


def _delta(values: np.ndarray, width: int = 9) -> np.ndarray:
    """Regression delta over ``width`` frames along axis 0 (as librosa.feature.delta, nearest)."""
    half = width // 2
    padded = np.pad(values, ((half, half), (0, 0)), mode="edge")
    weights = np.arange(-half, half + 1, dtype=np.float32)
    out = np.zeros_like(values)
    count = len(values)
    for offset, weight in enumerate(weights):
        if weight:
            out += weight * padded[offset : offset + count]
    return out / np.sum(weights**2)


# Pitch frames are analysed in blocks: each frame is independent, and a block bounds the float64
# FFT buffers (a minute of audio at once needed ~600 MB; a block of 512 frames, ~50 MB).
PITCH_BLOCK = 512


def _pitch(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """YIN f0 (Hz, 0 where unvoiced), voicing confidence and HNR (dB) per frame."""
    view = _frames(samples, PITCH_FRAME)  # a strided view: no copy yet
    blocks = [_pitch_block(view[i : i + PITCH_BLOCK]) for i in range(0, len(view), PITCH_BLOCK)]
    f0, voicing, hnr = (np.concatenate(parts) for parts in zip(*blocks))
    return f0, voicing, hnr


def _pitch_block(view: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames = view.astype(np.float64)
    frames = frames - frames.mean(1, keepdims=True)
    tau_max = int(SAMPLE_RATE / F0_MIN)
    tau_min = int(SAMPLE_RATE / F0_MAX)
    window = PITCH_FRAME - tau_max  # integration window of the difference function
    spectrum = np.fft.rfft(frames, 2 * PITCH_FRAME)
    # Autocorrelation of the window part against the whole frame gives sum x_j x_{j+tau}.
    head = np.fft.rfft(frames[:, :window], 2 * PITCH_FRAME)
    cross = np.fft.irfft(spectrum * np.conj(head), 2 * PITCH_FRAME)[:, : tau_max + 1]
    energy = np.cumsum(np.square(frames), axis=1)
    e0 = energy[:, window - 1]
    # Energy of frames[tau : tau + window] for every tau.
    shifted = (
        energy[:, window - 1 : window + tau_max]
        - np.pad(energy, ((0, 0), (1, 0)))[:, : tau_max + 1]
    )
    diff = np.maximum(e0[:, None] + shifted - 2 * cross, 0.0)
    diff[:, 0] = 0.0
    cumulative = np.cumsum(diff[:, 1:], axis=1)
    taus = np.arange(1, tau_max + 1)
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] * taus / np.maximum(cumulative, 1e-12)

    search = cmnd[:, tau_min:tau_max]
    below = search < YIN_THRESHOLD
    # First dip below the threshold, then walk to its local minimum; else the global minimum.
    first = np.where(below.any(1), below.argmax(1), search.argmin(1))
    index = first.copy()
    rows = np.arange(len(search))
    for _ in range(search.shape[1]):
        nxt = np.minimum(index + 1, search.shape[1] - 1)
        step = below.any(1) & (search[rows, nxt] < search[rows, index]) & (nxt != index)
        if not step.any():
            break
        index = np.where(step, nxt, index)
    tau = index + tau_min
    # Parabolic interpolation around the chosen lag.
    left = cmnd[rows, np.maximum(tau - 1, 1)]
    mid = cmnd[rows, tau]
    right = cmnd[rows, np.minimum(tau + 1, tau_max)]
    denom = left - 2 * mid + right
    shift = np.where(
        np.abs(denom) > 1e-12, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0
    )
    shift = np.clip(shift, -1, 1)
    aperiodicity = np.clip(mid, 0.0, 1.0)
    voicing = 1.0 - aperiodicity
    loud = e0 > 1e-6 * window
    voiced = (mid < YIN_THRESHOLD * 2) & loud
    f0 = np.where(voiced, SAMPLE_RATE / (tau + shift), 0.0)
    voicing = np.where(loud, voicing, 0.0)
    # Normalised autocorrelation at the pitch lag -> harmonics-to-noise ratio.
    norm = np.sqrt(e0 * np.maximum(shifted[rows, tau], 1e-12))
    r = np.clip(cross[rows, tau] / np.maximum(norm, 1e-12), 1e-4, 1 - 1e-4)
    hnr = np.where(loud, 10 * np.log10(r / (1 - r)), -20.0)
    return f0, voicing, np.clip(hnr, -20.0, 40.0)


def audio_features(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Per-frame acoustic features.

    Args:
        samples: mono float audio in [-1, 1], 1-D, at 16 kHz.
        sample_rate: must be 16000 (decode_audio resamples).
    Returns:
        float32 [frames, 74], frames = 1 + len(samples) // HOP, columns as AUDIO_FEATURES.
    """
    samples = np.asarray(samples)
    if samples.ndim != 1 or samples.size == 0:
        raise ValueError("audio_features needs a non-empty 1-D array of samples")
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"audio_features needs {SAMPLE_RATE} Hz audio, got {sample_rate}")
    samples = np.nan_to_num(samples.astype(np.float32, copy=False))

    frames = _frames(samples, N_FFT)
    power = np.square(np.abs(np.fft.rfft(frames * _window(), axis=1))).astype(np.float32)
    magnitude = np.sqrt(power)
    freqs = np.linspace(0, SAMPLE_RATE / 2, N_FFT // 2 + 1, dtype=np.float32)
    nyquist = SAMPLE_RATE / 2

    mel = power @ _mel_matrix().T
    log_mel = 10 * np.log10(np.maximum(mel, 1e-10))
    log_mel = np.maximum(log_mel, log_mel.max() - 80.0)  # librosa power_to_db top_db=80
    mfcc = log_mel @ _dct_matrix().T
    mfcc = mfcc[:, 1:]  # drop c0

    f0, voicing, hnr = _pitch(samples)
    f0_log = np.where(f0 > 0, np.log2(np.maximum(f0, 1.0)), 0.0)

    windowed = frames[:, (N_FFT - WIN) // 2 : (N_FFT + WIN) // 2]
    rms = np.sqrt(np.mean(np.square(windowed), axis=1))
    # Floored at exactly -100 dB (an amplitude of 1e-5): float32 log10 of 1e-5 rounds to
    # -100.00001 with numpy 2.4.6, so the floor is taken in dB too.
    log_rms = np.maximum(20 * np.log10(np.maximum(rms, 1e-5)), -100.0)
    signs = np.signbit(windowed)
    zcr = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)

    total = magnitude.sum(1) + 1e-10
    centroid = (magnitude @ freqs) / total
    bandwidth = np.sqrt((magnitude * np.square(freqs[None] - centroid[:, None])).sum(1) / total)
    cumulative = np.cumsum(power, axis=1)
    rolloff = freqs[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)]
    flatness = np.exp(np.mean(np.log(power + 1e-10), axis=1)) / (np.mean(power, axis=1) + 1e-10)
    normalised = magnitude / total[:, None]
    flux = np.sqrt(np.sum(np.square(np.diff(normalised, axis=0, prepend=normalised[:1])), 1))
    centred = freqs - freqs.mean()
    slope = (np.log10(power + 1e-10) - np.log10(power + 1e-10).mean(1, keepdims=True)) @ centred
    slope = slope / np.sum(np.square(centred)) * 1000.0  # log10 power per kHz
    probabilities = power / (power.sum(1, keepdims=True) + 1e-10)
    entropy = -np.sum(probabilities * np.log2(probabilities + 1e-12), 1) / np.log2(power.shape[1])

    contrast = []
    for low, high in _contrast_bands():
        band = np.sort(power[:, low:high], axis=1)
        k = max(1, round(0.2 * (high - low)))
        peak = np.log10(band[:, -k:].mean(1) + 1e-10)
        valley = np.log10(band[:, :k].mean(1) + 1e-10)
        contrast.append(peak - valley)

    columns = [
        f0_log,
        voicing,
        _delta(f0_log[:, None])[:, 0],
        hnr,
        log_rms,
        _delta(log_rms[:, None])[:, 0],
        zcr,
        centroid / nyquist,
        bandwidth / nyquist,
        rolloff / nyquist,
        flatness,
        flux,
        slope,
        entropy,
        *contrast,
    ]
    out = np.concatenate(
        [np.stack(columns, axis=1), mfcc, _delta(mfcc), _delta(_delta(mfcc[:, :13]))], axis=1
    ).astype(np.float32)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
