"""Decoding limits not covered elsewhere (issue 19): frames larger than MAX_FRAME_SIDE are shrunk
(to the same picture), the 60 s default cap on audio, and cover art is not a video."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import HAPPY
from media import face_image, read_audio, write_clip

from edgemood.decode import (
    MAX_FRAME_SIDE,
    MAX_SECONDS,
    SAMPLE_RATE,
    decode_audio,
    probe,
    read_frames,
)


def test_large_frames_are_shrunk_to_the_same_picture(tmp_path):
    image = cv2.resize(face_image("astronaut"), (1920, 1080), interpolation=cv2.INTER_CUBIC)
    clip = write_clip(tmp_path / "hd.mp4", image, None, fps=5, seconds=1.0)
    frames = list(read_frames(clip))
    assert frames and all(f.shape == (720, MAX_FRAME_SIDE, 3) for f in frames)
    expected = cv2.resize(image, (MAX_FRAME_SIDE, 720), interpolation=cv2.INTER_AREA)
    # H.264 at crf 30 moves pixels a little; a wrong crop or scale moves them a lot.
    assert np.abs(frames[0].astype(int) - expected).mean() < 6


def test_frames_at_the_limit_are_kept_as_they_are(tmp_path):
    image = cv2.resize(face_image("astronaut"), (MAX_FRAME_SIDE, 720))
    clip = write_clip(tmp_path / "720p.mp4", image, None, fps=5, seconds=1.0)
    assert all(f.shape == (720, MAX_FRAME_SIDE, 3) for f in read_frames(clip))


def test_audio_stops_at_60_seconds_by_default(tmp_path):
    import soundfile

    voice = read_audio(HAPPY)
    long = np.tile(voice, int(70 * SAMPLE_RATE / len(voice)) + 1)[: 70 * SAMPLE_RATE]
    soundfile.write(str(tmp_path / "long.wav"), long, SAMPLE_RATE)
    audio = decode_audio(tmp_path / "long.wav")
    assert len(audio) == int(MAX_SECONDS * SAMPLE_RATE) == 60 * SAMPLE_RATE
    np.testing.assert_allclose(audio[: len(voice)], voice, atol=1e-4)


def test_cover_art_is_not_a_video(tmp_path):
    """An audio file with an attached picture (album art: a one-frame 'video' stream flagged
    attached_pic) is audio only."""
    from fractions import Fraction

    import av

    path = tmp_path / "song_with_cover.mp4"
    with av.open(str(path), "w") as out:
        sound = out.add_stream("aac", rate=SAMPLE_RATE)
        sound.layout = "mono"
        cover = out.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 64, 64, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic.value  # PyAV 15 takes only an int
        picture = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in [*cover.encode(picture), *cover.encode()]:
            out.mux(packet)
        pcm = (read_audio(HAPPY) * 32767).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, 0, Fraction(1, SAMPLE_RATE)
        for packet in [*sound.encode(frame), *sound.encode()]:
            out.mux(packet)
    info = probe(path)
    assert info.has_audio and not info.has_video


def test_an_empty_file_is_named_as_such(tmp_path):
    from edgemood.errors import InputError

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.mp4: empty file \(0 bytes\)$") as caught:
        probe(empty)
    assert caught.value.reason == "empty"
