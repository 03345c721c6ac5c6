"""The corruptions training and evaluation use (edgemood.train.augment): the same copy for the
same clip, the length kept, and each doing what it says, checked against numpy's own FFT."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ANGRY

pytest.importorskip("audiomentations", reason="needs the [train] extra (audiomentations)")
pytestmark = pytest.mark.train

from edgemood.decode import SAMPLE_RATE, decode_audio  # noqa: E402
from edgemood.train.augment import CORRUPTIONS, codec_round_trip, corrupt  # noqa: E402


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode_audio(ANGRY)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_a_corruption_is_seeded_by_the_clip_and_keeps_the_length(kind, speech):
    if kind == "room":
        pytest.importorskip("pyroomacoustics", reason="not installable here (aarch64, 3.10)")
    first = corrupt(speech, kind, "03-01-05-02-01-01-01.flac")
    assert first.dtype == np.float32 and len(first) == len(speech)
    assert np.abs(first).max() <= 1.0
    assert np.array_equal(first, corrupt(speech, kind, "03-01-05-02-01-01-01.flac"))
    assert not np.allclose(first, speech, atol=1e-3)


def test_noise_sits_between_0_and_20_db_below_the_speech(speech):
    for key in ("a", "b", "c", "d"):
        noisy = corrupt(speech, "noise", key)
        snr = 10 * np.log10(np.sum(speech**2) / np.sum((noisy - speech) ** 2))
        assert -0.5 <= snr <= 20.5


def _band_energy(x: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_the_telephone_line_cuts_what_is_above_its_band(speech):
    line = corrupt(speech, "telephone", "a")
    # 8 kHz sampling leaves nothing above 4 kHz; the band-pass takes most of 0-200 Hz.
    above = _band_energy(line, 4200, 8000) / _band_energy(speech, 4200, 8000)
    assert above < 1e-3
    assert _band_energy(line, 0, 200) / _band_energy(speech, 0, 200) < 0.2
    assert _band_energy(line, 500, 3000) / _band_energy(speech, 500, 3000) > 0.3


def test_a_codec_round_trip_keeps_time_alignment(speech):
    # A lossy codec keeps where the speech is: the corrupted copy correlates best at lag 0.
    decoded = codec_round_trip(speech, "libmp3lame", "mp3", 32000)
    lags = range(-200, 201, 10)
    scores = [float(np.dot(np.roll(decoded, lag), speech)) for lag in lags]
    assert list(lags)[int(np.argmax(scores))] == 0


def test_an_unknown_corruption_is_refused(speech):
    with pytest.raises(ValueError, match="noise, room, codec, telephone, gain"):
        corrupt(speech, "vinyl", "a")
