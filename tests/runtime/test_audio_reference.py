"""Every audio feature against a value known independently (issue 19): librosa, with absolute
tolerances, where it computes the same quantity (its conventions matched: reflect padding, the
25 ms window in a 512-point FFT, magnitude or power as each of our features uses); signals with
known answers for the rest. A correlation would miss a scale or an offset; these do not.

The librosa tests need the [train] extra; the signal tests run on the device install alone."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAD

from edgemood.audio_features import AUDIO_FEATURES, HOP, N_FFT, SAMPLE_RATE, WIN, audio_features
from edgemood.decode import decode_audio

COLUMN = {name: i for i, name in enumerate(AUDIO_FEATURES)}
MFCC = slice(COLUMN["mfcc_1"], COLUMN["mfcc_1"] + 20)
MFCC_DELTA = slice(COLUMN["mfcc_delta_1"], COLUMN["mfcc_delta_1"] + 20)
MFCC_DELTA2 = slice(COLUMN["mfcc_delta2_1"], COLUMN["mfcc_delta2_1"] + 13)
NYQUIST = SAMPLE_RATE / 2
EDGE = 3  # frames at each end, where librosa's padding differs from ours
T = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE  # 2 s


def _column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, COLUMN[name]]


def _harmonic(f0: float, seconds: float = 2.0) -> np.ndarray:
    t = T[: int(seconds * SAMPLE_RATE)]
    return sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 5))


def _with_noise(signal: np.ndarray, snr_db: float, seed: int = 0) -> np.ndarray:
    power = np.mean(np.square(signal)) / 10 ** (snr_db / 10)
    noise = np.random.default_rng(seed).normal(scale=np.sqrt(power), size=signal.size)
    return (signal + noise).astype(np.float32)


def _white_noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(scale=0.1, size=T.size).astype(np.float32)


# --- librosa, the reference implementation (workstation extra) ---------------------------------


@pytest.fixture(scope="module")
def reference():
    """Our features of a real clip, and librosa's spectrogram of it with our conventions."""
    import librosa  # the [train] extra: a missing reference fails here, it is not skipped

    speech = decode_audio(SAD)
    stft = librosa.stft(speech, n_fft=N_FFT, win_length=WIN, hop_length=HOP, pad_mode="reflect")
    return librosa, speech, audio_features(speech), np.abs(stft)


@pytest.mark.train  # librosa is the reference
def test_mfcc_equal_librosa(reference):
    """Absolute agreement in dB (values span ±140): a scale or offset on any coefficient fails."""
    librosa, _, ours, magnitude = reference
    mel = librosa.feature.melspectrogram(S=magnitude**2, sr=SAMPLE_RATE, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=80.0), n_mfcc=21).T[:, 1:]
    np.testing.assert_allclose(ours[:, MFCC], mfcc, atol=1e-3)


@pytest.mark.train  # librosa is the reference
def test_spectral_shape_equals_librosa(reference):
    librosa, _, ours, magnitude = reference
    kwargs = {"sr": SAMPLE_RATE, "n_fft": N_FFT}
    centroid = librosa.feature.spectral_centroid(S=magnitude, **kwargs)[0]
    bandwidth = librosa.feature.spectral_bandwidth(S=magnitude, **kwargs)[0]
    rolloff = librosa.feature.spectral_rolloff(S=magnitude**2, roll_percent=0.85, **kwargs)[0]
    np.testing.assert_allclose(_column(ours, "spectral_centroid"), centroid / NYQUIST, atol=1e-5)
    np.testing.assert_allclose(_column(ours, "spectral_bandwidth"), bandwidth / NYQUIST, atol=1e-5)
    np.testing.assert_allclose(_column(ours, "spectral_rolloff"), rolloff / NYQUIST, atol=1e-6)
    # Flatness: librosa floors each bin at amin, we add 1e-10; the two differ only in frames
    # near digital silence, so compare frames with sound (above -60 dBFS RMS).
    flatness = librosa.feature.spectral_flatness(S=magnitude, power=2.0, amin=1e-10)[0]
    loud = _column(ours, "log_rms") > -60
    assert loud.sum() > 80
    np.testing.assert_allclose(_column(ours, "spectral_flatness")[loud], flatness[loud], atol=1e-3)


@pytest.mark.train  # librosa is the reference
def test_spectral_flux_slope_entropy_from_librosas_spectrogram(reference):
    """The three shape features librosa has no function for, computed here from its STFT by
    their definitions (slope by a least-squares line fit, not our closed form)."""
    _, _, ours, magnitude = reference
    power = magnitude**2
    normalised = magnitude / (magnitude.sum(0, keepdims=True) + 1e-10)
    flux = np.r_[0.0, np.linalg.norm(np.diff(normalised, axis=1), axis=0)]
    np.testing.assert_allclose(_column(ours, "spectral_flux"), flux, atol=1e-4)
    khz = np.linspace(0, NYQUIST, N_FFT // 2 + 1) / 1000
    slope = np.polyfit(khz, np.log10(power + 1e-10), 1)[0]  # log10 power per kHz
    np.testing.assert_allclose(_column(ours, "spectral_slope"), slope, atol=1e-3)
    p = power / (power.sum(0, keepdims=True) + 1e-10)
    entropy = -(p * np.log2(p + 1e-12)).sum(0) / np.log2(len(p))
    np.testing.assert_allclose(_column(ours, "spectral_entropy"), entropy, atol=1e-4)


@pytest.mark.train  # librosa is the reference
def test_energy_equals_librosa(reference):
    librosa, speech, ours, _ = reference
    rms = librosa.feature.rms(y=speech, frame_length=WIN, hop_length=HOP, pad_mode="reflect")[0]
    log_rms = 20 * np.log10(np.maximum(rms, 1e-5))
    np.testing.assert_allclose(_column(ours, "log_rms"), log_rms, atol=1e-3)
    # librosa counts crossings over all 400 samples of a frame, we over its 399 sample pairs.
    zcr = librosa.feature.zero_crossing_rate(speech, frame_length=WIN, hop_length=HOP)[0]
    inner = slice(EDGE, -EDGE)
    np.testing.assert_allclose(_column(ours, "zcr")[inner], zcr[inner] * WIN / (WIN - 1),
                               atol=1e-6)  # fmt: skip


@pytest.mark.train  # librosa is the reference
def test_deltas_equal_librosa(reference):
    """Δ and Δ² (width 9, edges repeated) of our own base features, by librosa.feature.delta."""
    librosa, _, ours, _ = reference

    def delta(x: np.ndarray) -> np.ndarray:
        return librosa.feature.delta(x, width=9, axis=0, mode="nearest")

    np.testing.assert_allclose(ours[:, MFCC_DELTA], delta(ours[:, MFCC]), atol=1e-4)
    np.testing.assert_allclose(ours[:, MFCC_DELTA2], delta(delta(ours[:, MFCC][:, :13])),
                               atol=1e-4)  # fmt: skip
    for name, base in (("log_rms_delta", "log_rms"), ("f0_log2_delta", "f0_log2")):
        np.testing.assert_allclose(_column(ours, name), delta(_column(ours, base)), atol=1e-4)


# --- signals with known answers (device install) ------------------------------------------------


@pytest.mark.parametrize("snr_db", [20.0, 10.0])
def test_hnr_of_a_periodic_signal_in_noise_is_its_snr(snr_db):
    """With harmonic power S and noise power N, the normalised autocorrelation at the pitch lag
    is S / (S + N), so the HNR is the signal-to-noise ratio."""
    features = audio_features(_with_noise(_harmonic(150.0), snr_db))[10:-10]
    assert np.median(_column(features, "hnr_db")) == pytest.approx(snr_db, abs=1.0)


def test_hnr_orders_clean_voice_noisy_voice_and_noise():
    clean = np.median(_column(audio_features(_harmonic(150.0).astype(np.float32)), "hnr_db"))
    speech = decode_audio(SAD)
    voiced = _column(audio_features(speech), "voicing") > 0.8
    noisy_speech = np.median(_column(audio_features(_with_noise(speech, 5.0)), "hnr_db")[voiced])
    noise = np.median(_column(audio_features(_white_noise()), "hnr_db"))
    assert clean > 30.0
    assert clean > noisy_speech + 15.0
    assert noise < -5.0 < noisy_speech


def test_white_noise_spectrum():
    """Gaussian white noise: each power bin is exponentially distributed, so the flatness
    (geometric over arithmetic mean) is exp(-Euler's gamma) = 0.561, the normalised entropy is
    1 - (1 - gamma) / ln(257) = 0.924 for 257 bins, the contrast of a wide band is
    log10(mean of the top 20 % / mean of the bottom 20 %) = log10(2.609 / 0.1074) = 1.386; the
    centroid is at half the Nyquist frequency, the spectrum has no slope, and half the sample
    pairs change sign."""
    gamma = np.euler_gamma
    features = audio_features(_white_noise())[EDGE:-EDGE]
    mean = {name: _column(features, name).mean() for name in AUDIO_FEATURES}
    assert mean["spectral_flatness"] == pytest.approx(np.exp(-gamma), abs=0.01)
    assert mean["spectral_entropy"] == pytest.approx(1 - (1 - gamma) / np.log(257), abs=0.003)
    top = 1 + np.log(5)  # E[X | X above its 80th percentile], X ~ Exp(1)
    bottom = 1 - np.log(1.25) * 0.8 / 0.2  # E[X | X below its 20th percentile]
    for band in (4, 5, 6):  # octaves wide enough (64-128 bins) for the quantiles to settle
        assert mean[f"contrast_{band}"] == pytest.approx(np.log10(top / bottom), abs=0.05)
    assert mean["spectral_centroid"] == pytest.approx(0.5, abs=0.01)
    assert mean["spectral_slope"] == pytest.approx(0.0, abs=0.01)
    assert mean["zcr"] == pytest.approx(0.5, abs=0.01)
    assert (_column(features, "f0_log2") > 0).mean() < 0.1


def test_pure_tone_spectrum():
    """A 1 kHz sine at amplitude 0.5: centroid and roll-off at 1 kHz, narrow bandwidth, flat
    spectral flux, zero flatness, RMS 0.5/sqrt(2) = -9.03 dB, 2 kHz of zero crossings, and the
    highest contrast in its own octave band (800-1600 Hz, band 3)."""
    features = audio_features((0.5 * np.sin(2 * np.pi * 1000 * T)).astype(np.float32))
    features = features[EDGE:-EDGE]
    mean = {name: _column(features, name).mean() for name in AUDIO_FEATURES}
    assert mean["spectral_centroid"] == pytest.approx(1000 / NYQUIST, abs=1e-3)
    assert mean["spectral_rolloff"] == pytest.approx(1000 / NYQUIST, abs=2 * 31.25 / NYQUIST)
    assert mean["spectral_bandwidth"] < 100 / NYQUIST
    assert mean["spectral_flatness"] < 1e-4
    assert mean["spectral_entropy"] < 0.3
    assert _column(features, "spectral_flux").max() < 1e-4
    assert mean["log_rms"] == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.01)
    assert mean["zcr"] == pytest.approx(2 * 1000 / SAMPLE_RATE, abs=0.002)
    contrast = [mean[f"contrast_{band}"] for band in range(7)]
    assert int(np.argmax(contrast)) == 3 and contrast[3] > 6.0


@pytest.mark.parametrize("f0", [90.0, 150.0, 240.0, 430.0])
def test_pitch_of_a_pure_sine(f0):
    """Within 0.1 % (measured: 0.03 % at most): the lags (66.7, 37.2 samples ...) fall between
    samples, so the parabolic interpolation must be right, not just present."""
    features = audio_features((0.3 * np.sin(2 * np.pi * f0 * T)).astype(np.float32))[10:-10]
    assert 2 ** np.median(_column(features, "f0_log2")) == pytest.approx(f0, rel=1e-3)
    assert np.abs(_column(features, "f0_log2_delta")).max() < 1e-3


def test_pitch_glide_gives_its_slope():
    """f0 rising one octave per second: log2 f0 grows 0.01 per 10 ms frame."""
    t = T[:SAMPLE_RATE]
    phase = 2 * np.pi * np.cumsum(120 * 2**t) / SAMPLE_RATE
    glide = sum(0.3 / k * np.sin(k * phase) for k in range(1, 4)).astype(np.float32)
    features = audio_features(glide)[15:-15]
    f0_log2 = _column(features, "f0_log2")
    assert np.median(_column(features, "f0_log2_delta")) == pytest.approx(0.01, abs=5e-4)
    assert f0_log2[0] == pytest.approx(np.log2(120 * 2**0.15), abs=0.02)


def test_amplitude_step_rms_and_its_delta():
    """A 440 Hz sine stepping from 0.1 to 0.4: log RMS -23.01 dB then -10.97 dB; the regression
    delta sums to the step's height, 20 log10(4) = 12.04 dB, and is zero away from it."""
    signal = (np.where(T < 1.0, 0.1, 0.4) * np.sin(2 * np.pi * 440 * T)).astype(np.float32)
    features = audio_features(signal)
    log_rms, delta = _column(features, "log_rms"), _column(features, "log_rms_delta")
    assert log_rms[20:80] == pytest.approx(20 * np.log10(0.1 / np.sqrt(2)), abs=0.01)
    assert log_rms[120:180] == pytest.approx(20 * np.log10(0.4 / np.sqrt(2)), abs=0.01)
    assert delta[EDGE:-EDGE].sum() == pytest.approx(20 * np.log10(4), abs=0.05)
    assert np.abs(delta[20:80]).max() < 0.01 and np.abs(delta[120:180]).max() < 0.01
    assert delta[95:106].max() > 1.5


def test_silence():
    features = audio_features(np.zeros(SAMPLE_RATE, np.float32))
    assert not _column(features, "zcr").any()
    assert not _column(features, "f0_log2").any() and not _column(features, "voicing").any()
    assert (_column(features, "log_rms") == -100.0).all()  # the 1e-5 floor
    assert (_column(features, "hnr_db") == -20.0).all()
