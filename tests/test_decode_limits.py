"""Decoding limits not covered elsewhere (issue 19): frames larger than MAX_FRAME_SIDE are shrunk
(to the same picture) and the 60 s default cap on audio."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import HAPPY
from media import face_image, read_audio, write_clip

from edgemood.decode import MAX_FRAME_SIDE, MAX_SECONDS, SAMPLE_RATE, decode_audio, read_frames


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
