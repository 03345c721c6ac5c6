"""Decoding: every container the product accepts, through PyAV."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FIXTURES, HAPPY
from media import face_image, read_audio, write_clip

from edgemood.decode import SAMPLE_RATE, decode_audio, probe, read_frames, timed_frames
from edgemood.errors import InputError


@pytest.mark.parametrize("suffix", ["mp4", "mkv", "avi", "mov"])
def test_video_containers_give_audio_and_frames(tmp_path, suffix):
    speech = read_audio(HAPPY)
    clip = write_clip(tmp_path / f"clip.{suffix}", face_image("astronaut"), speech, fps=10)
    info = probe(clip)
    assert info.has_audio and info.has_video
    audio = decode_audio(clip)
    assert audio.dtype == np.float32 and audio.ndim == 1
    # AAC adds priming samples; the length stays within 0.1 s of the source.
    assert abs(len(audio) - len(speech)) < 0.1 * SAMPLE_RATE
    frames = list(read_frames(clip, fps=5.0))
    seconds = len(speech) / SAMPLE_RATE
    assert abs(len(frames) - seconds * 5) <= 2
    assert frames[0].shape == (512, 512, 3) and frames[0].dtype == np.uint8


def test_flac_and_wav_are_audio_only(tmp_path):
    import soundfile

    samples = decode_audio(HAPPY)
    assert probe(HAPPY).has_audio and not probe(HAPPY).has_video
    reference, rate = soundfile.read(str(HAPPY), dtype="float32")
    assert rate == SAMPLE_RATE
    np.testing.assert_allclose(samples, reference, atol=1e-4)
    # A 44.1 kHz stereo wav is resampled to 16 kHz mono.
    wav = tmp_path / "stereo.wav"
    t = np.arange(44100) / 44100
    soundfile.write(str(wav), np.stack([np.sin(2 * np.pi * 440 * t)] * 2, 1) * 0.5, 44100)
    out = decode_audio(wav)
    assert abs(len(out) - SAMPLE_RATE) < 200
    spectrum = np.abs(np.fft.rfft(out[2000:14000]))
    assert abs(np.argmax(spectrum) * SAMPLE_RATE / 12000 - 440) < 5


def test_frame_sampling_rate_and_cap(tmp_path):
    frames = [np.full((64, 64, 3), i * 8, np.uint8) for i in range(30)]  # 3 s at 10 fps
    clip = write_clip(tmp_path / "ramp.mp4", frames, None, fps=10)
    assert len(list(read_frames(clip, fps=5.0))) == 15
    assert len(list(read_frames(clip, fps=2.0))) == 6
    assert len(list(read_frames(clip, fps=5.0, max_seconds=1.0))) == 5


def test_frames_the_decoder_skips_do_not_move_the_steps(tmp_path):
    """At 2.5 of 25 fps the decoder skips B-frames; the frames kept are still the ones at each
    0.4 s step, and each shows the picture of its time (a brightness ramp: frame i is 4 * i)."""
    import av

    frames = [np.full((64, 64, 3), 4 * i, np.uint8) for i in range(60)]
    clip = write_clip(tmp_path / "ramp.mp4", frames, None, fps=25, bframes=3)
    with av.open(str(clip)) as container:
        assert container.streams.video[0].codec_context.has_b_frames  # the path under test
    kept = list(timed_frames(clip, 2.5, None))
    assert [t for t, _ in kept] == pytest.approx([0.0, 0.4, 0.8, 1.2, 1.6, 2.0])
    # Studio-range YUV maps 0..255 onto a little less; frame i reads as about 4 * (i - 0.7).
    shown = [frame.mean() / 4 for _, frame in kept]
    assert shown == pytest.approx([25 * t for t, _ in kept], abs=1.5)


def test_a_damaged_packet_mid_file_loses_only_itself(tmp_path):
    """2,000 random bytes a third of the way into the picture data: the decoder fails on one
    packet; the frames after it still come (a damaged recording keeps its face)."""
    image = face_image("astronaut")
    frames = [np.roll(image, 8 * i, axis=1) for i in range(40)]  # moving: real P-frames
    clip = write_clip(tmp_path / "clean.mp4", frames, None, fps=10)
    data = bytearray(clip.read_bytes())
    at = int(len(data) * 0.3)
    data[at : at + 2000] = np.random.default_rng(1).bytes(2000)
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    clean = [t for t, _ in timed_frames(clip, 5.0, None)]
    kept = [t for t, _ in timed_frames(damaged, 5.0, None)]
    assert len(clean) == 20 and len(kept) >= 18 and kept[-1] == pytest.approx(clean[-1])


def test_a_video_stored_rotated_is_turned_upright():
    """``portrait_rotated.mp4`` stores a portrait face turned a quarter clockwise, with a display
    matrix that turns it back (as phones record); frames come out as players show them."""
    upright = face_image("astronaut")[0:384, 112:368]
    frames = list(read_frames(FIXTURES / "portrait_rotated.mp4"))
    assert frames and frames[0].shape == upright.shape
    assert np.abs(frames[0].astype(int) - upright).mean() < 8
    # The other way round (or upside down) is far from it: the check can tell.
    assert np.abs(np.rot90(frames[0], 2).astype(int) - upright).mean() > 30


def test_audio_is_capped(tmp_path):
    assert len(decode_audio(HAPPY, max_seconds=1.0)) == SAMPLE_RATE


def test_no_audio_track_gives_none(tmp_path):
    clip = write_clip(tmp_path / "mute.mp4", face_image("astronaut"), None, seconds=1.0)
    assert decode_audio(clip) is None and probe(clip).has_video


def test_bad_files_raise_input_error(tmp_path):
    garbage = tmp_path / "random.mp4"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    for path, reason in (
        (tmp_path / "none.wav", "file not found"),
        (tmp_path, "is a directory"),
        (garbage, "not a readable audio or video file"),
    ):
        with pytest.raises(InputError, match=reason):
            probe(path)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.95])
def test_truncated_mp4_is_an_input_error(tmp_path, keep):
    clip = write_clip(tmp_path / "full.mp4", face_image("astronaut"), read_audio(HAPPY))
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * keep)])
    # The mp4 index (moov) sits at the end, so a cut file cannot be opened at all.
    with pytest.raises(InputError, match="corrupt, truncated or not media"):
        probe(cut)


def test_metadata_in_a_legacy_encoding_still_decodes(tmp_path):
    """A WAV whose title is cp1251 bytes (not UTF-8): PyAV < 19 raised UnicodeDecodeError on open
    unless told to ignore it, PyAV 19 has no such option (and never raises); both must decode."""
    import struct

    import soundfile

    tone = (np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE) * 0.5).astype(np.float32)
    pcm = (tone * 32767).astype("<i2").tobytes()
    title = "Привет".encode("cp1251") + b"\x00\x00"  # invalid as UTF-8; even length (RIFF)
    info = b"INFO" + b"INAM" + struct.pack("<I", len(title)) + title
    fmt = struct.pack("<HHIIHH", 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    chunks = (
        b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"LIST" + struct.pack("<I", len(info)) + info
        + b"data" + struct.pack("<I", len(pcm)) + pcm
    )  # fmt: skip
    wav = tmp_path / "legacy_title.wav"
    wav.write_bytes(b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks)
    reference, _ = soundfile.read(str(wav), dtype="float32")
    np.testing.assert_allclose(decode_audio(wav), reference, atol=1e-4)
    assert probe(wav).has_audio
