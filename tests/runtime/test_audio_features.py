"""Audio features: names, shapes, determinism, robustness, and agreement with librosa (the
reference implementation, used here only: the device computes them in numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SAD

from edgemood.audio_features import AUDIO_FEATURES, HOP, SAMPLE_RATE, audio_features
from edgemood.decode import decode_audio

COLUMN = {name: i for i, name in enumerate(AUDIO_FEATURES)}


def _tone(f0: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 5)).astype(np.float32)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode_audio(SAD)


def test_names_and_shape(speech):
    assert len(AUDIO_FEATURES) == 74 and len(set(AUDIO_FEATURES)) == 74
    features = audio_features(speech)
    assert features.shape == (1 + len(speech) // HOP, 74) and features.dtype == np.float32
    assert np.isfinite(features).all()


def test_deterministic(speech):
    np.testing.assert_array_equal(audio_features(speech), audio_features(speech.copy()))


@pytest.mark.parametrize("f0", [110.0, 200.0, 320.0])
def test_pitch_of_a_harmonic_tone(f0):
    features = audio_features(_tone(f0))[10:-10]
    measured = 2 ** np.median(features[:, COLUMN["f0_log2"]])
    assert abs(measured / f0 - 1) < 0.02
    assert features[:, COLUMN["voicing"]].mean() > 0.9


def test_noise_is_unvoiced_and_silence_is_finite():
    noise = np.random.default_rng(0).normal(scale=0.1, size=SAMPLE_RATE).astype(np.float32)
    features = audio_features(noise)
    assert (features[:, COLUMN["f0_log2"]] > 0).mean() < 0.1
    for signal in (
        np.zeros(SAMPLE_RATE, np.float32),
        np.zeros(100, np.float32),
        np.full(8000, 0.5, np.float32),
        np.clip(_tone(150) * 20, -1, 1),
    ):
        out = audio_features(signal)
        assert len(out) == 1 + len(signal) // HOP and np.isfinite(out).all()


def test_rejects_bad_input():
    with pytest.raises(ValueError):
        audio_features(np.zeros(0, np.float32))
    with pytest.raises(ValueError):
        audio_features(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError):
        audio_features(np.zeros(100, np.float32), sample_rate=48000)


@pytest.mark.train
def test_agrees_with_librosa(speech):
    import librosa  # the [train] extra; the reference, never used on the device

    ours = audio_features(speech)
    start = COLUMN["mfcc_1"]
    mfcc = librosa.feature.mfcc(
        y=speech, sr=SAMPLE_RATE, n_mfcc=21, n_fft=512, win_length=400, hop_length=HOP, n_mels=64
    ).T[:, 1:]
    for k in range(20):
        assert np.corrcoef(mfcc[:, k], ours[:, start + k])[0, 1] > 0.99, k
    centroid = librosa.feature.spectral_centroid(
        y=speech, sr=SAMPLE_RATE, n_fft=512, win_length=400, hop_length=HOP
    )[0]
    assert np.corrcoef(centroid, ours[:, COLUMN["spectral_centroid"]])[0, 1] > 0.99
    rms = librosa.feature.rms(y=speech, frame_length=400, hop_length=HOP)[0]
    log_rms = 20 * np.log10(np.maximum(rms, 1e-5))
    assert np.corrcoef(log_rms, ours[:, COLUMN["log_rms"]])[0, 1] > 0.99
    yin = librosa.yin(speech, fmin=60, fmax=500, sr=SAMPLE_RATE, frame_length=1024, hop_length=HOP)
    voiced = ours[:, COLUMN["f0_log2"]] > 0
    ratio = 2 ** ours[voiced, COLUMN["f0_log2"]] / yin[voiced]
    assert voiced.sum() > 50 and np.mean(np.abs(ratio - 1) < 0.05) > 0.95
