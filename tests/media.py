"""Makes real media files for tests: H.264 video from a still (or moving) face image, with an
optional audio track, written through PyAV (bundled FFmpeg, nothing needed on the system)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def face_image(name: str = "astronaut") -> np.ndarray:
    """A real face photo as BGR uint8: 'astronaut' (scikit-image, NASA, public domain) or
    'grace_hopper' (matplotlib sample data, U.S. Navy, public domain)."""
    if name == "astronaut":
        from skimage import data

        return np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    import cv2
    import matplotlib

    path = os.path.join(matplotlib.get_data_path(), "sample_data", "grace_hopper.jpg")
    return cv2.imread(path)


def read_audio(path: str | Path) -> np.ndarray:
    """Mono float32 samples of an audio file (any rate: the writer resamples)."""
    import soundfile

    samples, _ = soundfile.read(str(path), dtype="float32", always_2d=True)
    return samples.mean(1)


def write_clip(
    path: str | Path,
    frames: list[np.ndarray] | np.ndarray | None,
    audio: np.ndarray | None = None,
    sample_rate: int = 16000,
    fps: int = 15,
    seconds: float | None = None,
    container: str | None = None,
    bframes: int = 0,
) -> Path:
    """Write a clip.

    Args:
        path: output file; its extension picks the container (mp4, mkv, avi ...).
        frames: one BGR image (repeated) or a list of BGR images; None: no video stream.
        audio: mono float32 samples at ``sample_rate``; None: no audio stream.
        fps: video frame rate.
        seconds: video length for a single still image (default: the audio's length or 2 s).
        container: container format name when the extension is not enough.
        bframes: B-frames between reference frames (0: none, as the fast preset writes).
    Returns:
        The path.
    """
    path = Path(path)
    if isinstance(frames, np.ndarray) and frames.ndim == 3:
        length = seconds or (len(audio) / sample_rate if audio is not None else 2.0)
        frames = [frames] * max(1, round(length * fps))
    with av.open(str(path), "w", format=container) as out:
        video = None
        if frames:
            height, width = frames[0].shape[:2]
            video = out.add_stream("libx264", rate=fps)
            video.width, video.height = width - width % 2, height - height % 2
            video.pix_fmt = "yuv420p"
            video.options = {"preset": "ultrafast", "crf": "30"}
            if bframes:  # ultrafast writes no B-frames
                video.options = {"crf": "20", "bf": str(bframes)}
        sound = None
        if audio is not None:
            sound = out.add_stream("aac", rate=sample_rate)
            sound.layout = "mono"
        for image in frames or []:
            image = np.ascontiguousarray(image[: video.height, : video.width])
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            for packet in video.encode(frame):
                out.mux(packet)
        if video is not None:
            for packet in video.encode():
                out.mux(packet)
        if sound is not None:
            pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16)
            step = 1024
            for start in range(0, len(pcm), step):
                chunk = pcm[start : start + step].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
                frame.sample_rate = sample_rate
                frame.pts = start
                frame.time_base = Fraction(1, sample_rate)
                for packet in sound.encode(frame):
                    out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path
