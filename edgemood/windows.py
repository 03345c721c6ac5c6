"""Streams cut into windows: the mechanics under ``FeatureExtractor.windows``.

Audio and frames are streamed (``decode.stream_audio``, ``decode.timed_frames``): only one window
of audio and the face rows of one window are held, so memory does not grow with the file. Which
streams are opened, and what goes unused, is decided in ``edgemood.features``, not here.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator

import numpy as np

from edgemood.audio_features import AUDIO_FEATURES, FRAME_RATE, HOP, audio_features
from edgemood.decode import SAMPLE_RATE
from edgemood.errors import InputError

# Audio features are computed over blocks of the stream, not per window: with 2 s windows every
# 1 s that cost 3.6 times the CPU of one pass (benchmarks/research/README.md, "Runtime"). The
# context, 0.25 s either side, covers every frame's reach (64 ms pitch frames, deltas of deltas
# over 17 frames).
BLOCK_S = 10
CONTEXT = SAMPLE_RATE // 4


class AudioWindows:
    """The audio stream, cut into windows. Features are computed once per block of the stream
    (``BLOCK_S``, with ``CONTEXT`` samples either side so that frames near a block edge come out
    as from one call over the whole track) and windows take their frames from there: overlapping
    windows cost no second computation. Holds about one block and one window."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self._chunks = chunks
        self._samples = np.zeros(0, np.float32)
        self._offset = 0  # sample index of _samples[0]
        self._features = np.zeros((0, len(AUDIO_FEATURES)), np.float32)
        self._first_frame = 0  # frame index of _features[0]; frame i is centred on sample i*HOP
        self.exhausted = False
        self.seconds = 0.0  # time spent on audio features

    @property
    def end_s(self) -> float:
        """Seconds decoded so far (the track's length once exhausted)."""
        return (self._offset + len(self._samples)) / SAMPLE_RATE

    def _pull(self, until: int) -> None:
        parts, have = [self._samples], self._offset + len(self._samples)
        while have <= until and not self.exhausted:  # one sample past: is this the end?
            chunk = next(self._chunks, None)
            if chunk is None:
                self.exhausted = True
            else:
                parts.append(chunk)
                have += len(chunk)
        if len(parts) > 1:
            self._samples = np.concatenate(parts)

    def _compute(self, last_frame: int) -> None:
        """Features up to frame ``last_frame`` (exclusive), block by block."""
        while self._first_frame + len(self._features) < last_frame:
            first = self._first_frame + len(self._features)
            stop = first + BLOCK_S * int(FRAME_RATE)
            self._pull(stop * HOP + CONTEXT)
            total = self._offset + len(self._samples)
            if first * HOP >= total and self.exhausted:
                return
            begin = max(0, first * HOP - CONTEXT)
            piece = self._samples[begin - self._offset : stop * HOP + CONTEXT - self._offset]
            clock = time.perf_counter()
            frames = audio_features(piece)[(first * HOP - begin) // HOP :][: stop - first]
            self.seconds += time.perf_counter() - clock
            if self.exhausted and stop * HOP + CONTEXT >= total:  # the last block: to the end
                frames = frames[: 1 + total // HOP - first]
            self._features = np.concatenate([self._features, frames])

    def take(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """(samples, feature frames) of [start, end), fewer at the end of the track; what lies
        before ``start`` (less the context) is dropped."""
        first, last = round(start * SAMPLE_RATE), round(end * SAMPLE_RATE)
        self._pull(last)
        frame0, frame1 = first // HOP, last // HOP
        self._compute(frame1)
        cut = max(0, first - CONTEXT - self._offset)
        self._samples, self._offset = self._samples[cut:], self._offset + cut
        drop = max(0, frame0 - self._first_frame)
        self._features, self._first_frame = self._features[drop:], self._first_frame + drop
        samples = self._samples[first - self._offset : last - self._offset]
        return samples, self._features[: frame1 - frame0]


class FaceWindows:
    """Sampled frames, cut into windows: each frame's landmarks are computed once, as it comes,
    and only the face rows of the current window are kept."""

    def __init__(
        self, frames: Iterator[tuple[float, np.ndarray]], landmarker, features, fps: float
    ) -> None:
        self._frames = frames
        self._landmarker = landmarker
        self._face_features = features  # a FrameFeatures: (frame, landmarks) -> row
        self._rows: deque[tuple[float, np.ndarray | None]] = deque()
        self._step = 1.0 / fps
        self.exhausted = False
        self.failure: str | None = None
        self.end_s = 0.0
        self.seconds = 0.0  # time spent in the face stage

    def take(self, start: float, end: float) -> tuple[np.ndarray | None, int]:
        """(face rows of the frames in [start, end) or None when none has a face, frames seen)."""
        while not self.exhausted and (not self._rows or self._rows[-1][0] < end):
            clock = time.perf_counter()
            try:
                item = next(self._frames, None)
            except InputError as exc:  # the audio may still be fine: the face goes missing
                self.failure, item = f"video could not be read ({exc.reason}): face not used", None
            if item is None:
                self.exhausted = True
            else:
                stamp, frame = item
                landmarks = self._landmarker(frame)
                row = None if landmarks is None else self._face_features(frame, landmarks)
                self._rows.append((stamp, row))
                self.end_s = stamp + self._step
            self.seconds += time.perf_counter() - clock
        while self._rows and self._rows[0][0] < start:
            self._rows.popleft()
        inside = [row for stamp, row in self._rows if stamp < end]
        faces = [row for row in inside if row is not None]
        return (np.stack(faces) if faces else None), len(inside)


class CachedEncoder:
    """Text vectors of the last few window texts: overlapping windows share their cues."""

    def __init__(self, encoder: Callable[[str], np.ndarray] | None, size: int = 8) -> None:
        self.encoder, self.size = encoder, size
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, text: str) -> np.ndarray | None:
        if not text or self.encoder is None:
            return None
        if text not in self._cache:
            if len(self._cache) >= self.size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[text] = self.encoder(text)
        return self._cache[text]
