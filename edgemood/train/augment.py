"""What a recording meets outside the studio, applied to training audio and to test sets: noise,
a room, a lossy codec, a telephone line, a careless gain.

Each corruption maps 16 kHz float32 samples to as many samples, drawn from its own random
generator, so a clip's corrupted copy is the same in every run. The field's libraries do the
signal work: ``audiomentations`` (noise at an SNR, gain, clipping, band-pass; MIT) and
``pyroomacoustics`` (image-source room impulse responses; MIT); codecs go through PyAV (the
decoder edgemood already uses), in memory.

Used two ways: ``edgemood train --augment noise,room,...`` adds a corrupted copy of each training
clip per corruption (features cached like the speed copies), and ``edgemood evaluate --corrupt
KIND`` scores the test clips after that corruption (what it costs).
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Callable

import numpy as np

from edgemood.decode import SAMPLE_RATE

CORRUPTIONS = ("noise", "room", "codec", "telephone", "gain")


def _seed(key: str, kind: str) -> int:
    """A stable seed from a clip's identity and the corruption."""
    return int.from_bytes(hashlib.sha1(f"{key}|{kind}".encode()).digest()[:8], "little")


def corrupt(samples: np.ndarray, kind: str, key: str) -> np.ndarray:
    """``samples`` (16 kHz, float32) after corruption ``kind``, drawn with a seed of ``key``
    (the clip's path): the same clip always gets the same corruption.

    Raises:
        ValueError: an unknown kind.
        SystemExit: the augmentation libraries are not installed (one line).
    """
    if kind not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {', '.join(CORRUPTIONS)}")
    rng = np.random.default_rng(_seed(key, kind))
    out = _KINDS[kind](np.asarray(samples, np.float32), rng)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


def _seed_globals(rng: np.random.Generator) -> None:
    """audiomentations draws its parameters from the global ``random`` and ``numpy.random``."""
    seed = int(rng.integers(2**31))
    random.seed(seed)
    np.random.seed(seed)


def _augmentations():
    try:
        import audiomentations
    except ImportError:
        raise SystemExit(
            "edgemood: augmentation needs audiomentations (pip install 'audiomentations>=0.42,"
            "<0.44'; on aarch64 its python-stretch dependency builds from source)"
        ) from None
    return audiomentations


def _noise(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """White to brown noise at 0-20 dB SNR (audiomentations.AddColorNoise)."""
    am = _augmentations()
    _seed_globals(rng)
    return am.AddColorNoise(min_snr_db=0.0, max_snr_db=20.0, p=1.0)(x, SAMPLE_RATE)


def _room(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A shoebox room (3-10 m, RT60 0.2-0.8 s), source and microphone 1-4 m apart, by the
    image-source method of pyroomacoustics."""
    try:
        import pyroomacoustics as pra
    except ImportError:
        raise SystemExit("edgemood: --augment room needs pyroomacoustics") from None
    from scipy.signal import fftconvolve

    size = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 3.5])
    rt60 = rng.uniform(0.2, 0.8)
    try:
        absorption, order = pra.inverse_sabine(rt60, size)
    except ValueError:  # an RT60 this room cannot have: take the drier end
        absorption, order = pra.inverse_sabine(0.2, size)
    room = pra.ShoeBox(
        size, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=min(order, 17)
    )
    source = rng.uniform(0.5, size - 0.5)
    direction = rng.normal(size=3)
    direction[2] *= 0.1
    distance = rng.uniform(1.0, 4.0)
    mic = np.clip(source + direction / np.linalg.norm(direction) * distance, 0.3, size - 0.3)
    room.add_source(source)
    room.add_microphone(mic)
    room.compute_rir()
    rir = np.asarray(room.rir[0][0], np.float64)
    wet = fftconvolve(x, rir)[: len(x)]
    # Keep the level of the dry signal: the room colours and smears, the gain is another test.
    scale = np.sqrt(np.mean(x**2) / max(np.mean(wet**2), 1e-12))
    return (wet * scale).astype(np.float32)


def codec_round_trip(
    x: np.ndarray, codec: str, container: str, bit_rate: int | None, rate: int = SAMPLE_RATE
) -> np.ndarray:
    """``x`` encoded with ``codec`` at ``bit_rate`` (at sample rate ``rate``) and decoded back to
    16 kHz by PyAV, in memory; cut or padded to ``len(x)`` (encoders add a frame's worth)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(
            x[None, :].astype(np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = SAMPLE_RATE
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    pieces = []
    with av.open(io.BytesIO(buffer.getvalue())) as source:
        for decoded in source.decode(audio=0):
            pieces += [f.to_ndarray()[0] for f in resampler.resample(decoded)]
    pieces += [f.to_ndarray()[0] for f in resampler.resample(None)]
    y = np.concatenate(pieces).astype(np.float32)[: len(x)] if pieces else np.zeros(0, np.float32)
    return np.pad(y, (0, len(x) - len(y)))


def _codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Opus at 12-24 kb/s (a voice call, a voice message) or MP3 at 24-48 kb/s."""
    if rng.random() < 0.5:
        return codec_round_trip(x, "libopus", "ogg", int(rng.choice([12, 16, 24])) * 1000)
    return codec_round_trip(x, "libmp3lame", "mp3", int(rng.choice([24, 32, 48])) * 1000)


def _telephone(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The telephone band: 300-3400 Hz, 8 kHz mu-law (G.711)."""
    am = _augmentations()
    band = am.BandPassFilter(
        min_center_freq=1850.0,
        max_center_freq=1850.0,
        min_bandwidth_fraction=3100 / 1850,
        max_bandwidth_fraction=3100 / 1850,
        min_rolloff=24,
        max_rolloff=24,
        p=1.0,
    )
    return codec_round_trip(band(x, SAMPLE_RATE), "pcm_mulaw", "wav", None, rate=8000)


def _gain(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A level 20 dB below to 10 dB above, then clipping of the loudest 0-20 % of samples."""
    am = _augmentations()
    _seed_globals(rng)
    gained = am.Gain(min_gain_db=-20.0, max_gain_db=10.0, p=1.0)(x, SAMPLE_RATE)
    return am.ClippingDistortion(0, 20, p=1.0)(gained, SAMPLE_RATE)


_KINDS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "noise": _noise,
    "room": _room,
    "codec": _codec,
    "telephone": _telephone,
    "gain": _gain,
}
