"""Decoding: a media file becomes 16 kHz mono float32 audio and BGR frames at a fixed rate.

Audio and frames go through PyAV because it bundles FFmpeg: mp4/mkv/avi/wav/flac decode on a bare
Pi with no system ffmpeg (soundfile cannot read mp4, and librosa would fall back to audioread +
ffmpeg). Frames are sampled at ``VISUAL_FPS``: facial expressions change over hundreds of
milliseconds, and the face branch pools its frames by their mean, so a few frames per second keep
what a clip's expression says (measured: see the constant) at a fraction of the face-model time
of 30 fps. Frames between the samples are decoded (or skipped, see ``timed_frames``) but never
converted to pixels. PyAV rather than OpenCV's reader for frames: only PyAV lets the decoder skip
frames that nothing refers to.

Long inputs are capped and streamed: audio decoding stops after ``MAX_SECONDS`` (the model pools
over time anyway), frames are yielded one by one up to the same limit, and videos with frames
over ``MAX_FRAME_PIXELS`` are not decoded at all; memory stays bounded whatever the file.
Whole recordings (``FeatureExtractor.windows`` in ``edgemood.features``, cut by
``edgemood.windows``) are read uncapped through the same streams: ``stream_audio`` yields decoded
chunks and ``timed_frames`` frames with their times.
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemood.errors import InputError

SAMPLE_RATE = 16000
# Face frames per second. The face stage costs per frame (landmarks + expression CNN: two thirds
# of a video clip's time at 5 per second). On the per-frame OpenFace units of RAVDESS actors
# 01-05 (benchmarks/research/face_fps.py, leave one actor out), a clip mean from 2.5 frames/s
# classified about as well as one from every frame (0.461; 0.467 at 5, 0.470 at 29.97); from 1
# frame per second it lost 5 points.
VISUAL_FPS = 2.5
# File types looked for when a folder or a pattern is given (infer, bench, train, evaluate): the one
# list for every command. Any file can still be passed by name; the decoder decides by content.
MEDIA_SUFFIXES = frozenset(
    {
        *(".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".aif", ".aiff"),
        *(".mp4", ".m4v", ".mkv", ".avi", ".mov", ".webm", ".mpg", ".mpeg", ".3gp", ".ts"),
    }
)
MAX_SECONDS = 60.0
# Frames larger than this (longer side, pixels) are shrunk first: the face models work at
# 128-192 px, and an 8K frame would otherwise cost memory for nothing.
MAX_FRAME_SIDE = 1280
# Larger videos are not decoded at all (the face is then reported missing, the audio is still
# used): one 4096x4096 frame alone took the process to 380 MB, too much for a Pi. DCI 4K fits.
MAX_FRAME_PIXELS = 4096 * 2160


@dataclass(frozen=True)
class MediaInfo:
    """What a file holds, read from its container header."""

    has_audio: bool
    has_video: bool
    duration: float | None
    width: int = 0
    height: int = 0


def is_pattern(path: str | Path) -> bool:
    """Whether a name that is not on disk reads as a glob pattern (``*.m4a``, ``clip?.mp4``)."""
    return not Path(path).exists() and glob.has_magic(str(path))


def media_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expanded to the media files under them (sorted, recursively);
    a pattern the shell did not expand (quoted, or on Windows) expanded here. A pattern that
    matches nothing is kept as given, for the caller to report (see ``is_pattern``)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out += sorted(
                p for p in path.rglob("*") if p.suffix.lower() in MEDIA_SUFFIXES and p.is_file()
            )
        elif is_pattern(path):
            matches = sorted(glob.glob(str(path), recursive=True))
            out += media_files(matches) if matches else [path]
        else:
            out.append(path)
    return out


def _open_kwargs(av_module) -> dict:
    # Metadata in a legacy encoding (cp1251 titles, say) made PyAV < 19 raise UnicodeDecodeError
    # on open, hence "ignore"; PyAV 19 removed the argument and reads metadata as UTF-8 with
    # surrogateescape, which never raises (its changelog, "Remove the metadata_errors argument").
    major = int(av_module.__version__.split(".")[0])
    return {"metadata_errors": "ignore"} if major < 19 else {}


def _open(path: Path):
    import av

    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a media file", "not_a_file")
    if not path.exists():
        raise InputError(f"{path}: file not found", "not_found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)", "empty")
    try:
        return av.open(str(path), **_open_kwargs(av))
    except PermissionError as exc:
        raise InputError(f"{path}: permission denied", "unreadable") from exc
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(
            f"{path}: not a readable audio or video file (corrupt, truncated or not media)",
            "not_media",
        ) from exc


def _video_streams(container) -> list:
    # A cover image in an audio file shows up as a one-frame "video" stream: not a video.
    return [
        s
        for s in container.streams.video
        if not (s.disposition & s.disposition.attached_pic) and s.codec_context is not None
    ]


def probe(path: str | Path) -> MediaInfo:
    """Read which streams a file has.

    Args:
        path: a media file.
    Returns:
        MediaInfo; raises InputError for a missing, empty, unreadable or non-media file.
    """
    path = Path(path)
    with _open(path) as container:
        duration = container.duration / 1_000_000 if container.duration else None
        videos = _video_streams(container)
        context = videos[0].codec_context if videos else None
        return MediaInfo(
            has_audio=bool(container.streams.audio),
            has_video=bool(videos),
            duration=duration,
            width=int(getattr(context, "width", 0) or 0),
            height=int(getattr(context, "height", 0) or 0),
        )


def decode_audio(path: str | Path, max_seconds: float = MAX_SECONDS) -> np.ndarray | None:
    """Decode the first audio track as 16 kHz mono float32 in [-1, 1].

    Args:
        path: any file FFmpeg reads (mp4, mkv, avi, wav, flac, ...).
        max_seconds: decoding stops after this much audio.
    Returns:
        The samples, or None when the file has no audio track.
    """
    path = Path(path)
    limit = int(max_seconds * SAMPLE_RATE)
    with _open(path) as container:
        if not container.streams.audio:
            return None
        chunks: list[np.ndarray] = []
        total = 0
        for chunk in _audio_chunks(container, path):
            chunks.append(chunk)
            total += chunk.size
            if total >= limit:
                break
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(chunks)[:limit]


def stream_audio(path: str | Path) -> Iterator[np.ndarray]:
    """Yield the first audio track as 16 kHz mono float32 chunks in [-1, 1] as they decode:
    memory stays at one decoder frame however long the file (whole recordings: edgemood.windows).

    Args:
        path: any file FFmpeg reads.
    Yields:
        1-D float32 arrays; nothing when the file has no audio track. A truncated file ends
        where the damage starts; InputError when not even the first chunk decodes.
    """
    path = Path(path)
    with _open(path) as container:
        if container.streams.audio:
            yield from _audio_chunks(container, path)


def _audio_chunks(container, path: Path) -> Iterator[np.ndarray]:
    import av
    from av.audio.resampler import AudioResampler

    stream = container.streams.audio[0]
    resampler = AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
    produced = False
    try:
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                produced = True
                yield clean_samples(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            yield clean_samples(out.to_ndarray().reshape(-1))
    except av.error.FFmpegError as exc:
        # A truncated file decodes up to the damage; keep what came out if there is any.
        if not produced:
            raise InputError(f"{path}: audio track could not be decoded", "corrupt") from exc


def clean_samples(samples: np.ndarray) -> np.ndarray:
    """float32 samples, clipped to [-1, 1], NaN as 0: what every decoded chunk becomes."""
    samples = samples.astype(np.float32, copy=False)
    return np.nan_to_num(np.clip(samples, -1.0, 1.0), copy=False)


def read_frames(
    path: str | Path, fps: float = VISUAL_FPS, max_seconds: float = MAX_SECONDS
) -> Iterator[np.ndarray]:
    """Yield BGR frames sampled at ``fps`` (one frame per 1/fps seconds of video time).

    Args:
        path: a video file.
        fps: sampling rate; frames in between are not converted to pixels.
        max_seconds: stop after this much video time.
    Yields:
        uint8 arrays [height, width, 3], shrunk to at most MAX_FRAME_SIDE on the longer side.
    """
    for _, frame in timed_frames(path, fps, max_seconds):
        yield frame


def timed_frames(
    path: str | Path, fps: float = VISUAL_FPS, max_seconds: float | None = MAX_SECONDS
) -> Iterator[tuple[float, np.ndarray]]:
    """As ``read_frames``, with each frame's time in seconds from the video's first frame;
    ``max_seconds=None`` reads to the end (frames are streamed one by one either way).

    A frame is kept when its time reaches the next 1/fps step. When fewer than half the frames
    are wanted, the decoder skips the frames no other frame refers to (``NONREF``: the B-frames of
    most H.264/HEVC encodes, half the decoding time of a 25 fps x264 file here); the steps still
    fall on the nearest decoded frame at or after them. Frames stored rotated (a phone held
    upright) are turned upright, as players show them.
    """
    import av

    path = Path(path)
    with _open(path) as container:
        videos = _video_streams(container)
        if not videos:
            return
        stream = videos[0]
        # One decoding thread: FFmpeg otherwise keeps a frame buffer per thread, and a 4K clip
        # then costs hundreds of MB; at a few sampled frames per second one thread keeps up.
        stream.codec_context.thread_count = 1
        rate = float(stream.average_rate or stream.guessed_rate or 0.0)
        # Some containers report 0 or absurd rates; 30 fps is the common default then.
        native = rate if 1.0 <= rate <= 1000.0 else 30.0
        if native / fps >= 2.0:
            stream.codec_context.skip_frame = "NONREF"
        keep, first, count, damaged = frame_picker(fps), None, 0, False
        try:
            for packet in container.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    damaged = True  # a damaged packet: skip it, the next keyframe recovers
                    continue
                for frame in frames:
                    stamp = frame.time if frame.time is not None else count / native
                    count += 1
                    first = stamp if first is None else first
                    at = stamp - first
                    if max_seconds is not None and at >= max_seconds:
                        return
                    if not keep(at):
                        continue
                    image = _upright(frame.to_ndarray(format="bgr24"), frame.rotation)
                    yield at, _shrink(image)
        except av.error.FFmpegError:
            damaged = True  # the container ends early (truncated): keep what came before
        if first is None and damaged:
            raise InputError(f"{path}: video could not be decoded", "corrupt")


def frame_picker(fps: float, phase: float = 0.0) -> Callable[[float], bool]:
    """Which frames ``timed_frames`` keeps: called with each frame's time in seconds from the
    first frame (increasing), true for the first frame at or after each 1/fps step from
    ``phase``. Skipped frames move no step: after a gap the next frame is kept once."""
    step, next_pick = 1.0 / fps, phase

    def keep(at: float) -> bool:
        nonlocal next_pick
        if at + 1e-6 < next_pick:
            return False
        while next_pick <= at + 1e-6:
            next_pick += step
        return True

    return keep


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """``image`` turned as its display matrix says (``rotation``: degrees counter-clockwise)."""
    turns = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _shrink(frame: np.ndarray) -> np.ndarray:
    import cv2

    height, width = frame.shape[:2]
    side = max(height, width)
    if side <= MAX_FRAME_SIDE:
        return frame
    scale = MAX_FRAME_SIDE / side
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
