"""Whole recordings: emotion over time, window by window, in bounded memory.

A recording is cut into windows of ``WINDOW_S`` seconds every ``HOP_S`` seconds (the choice and
its measurement: benchmarks/RESULTS.md, "Whole recordings"). Audio and frames are streamed
(``decode.stream_audio``, ``decode.timed_frames``): only one window of audio and the face rows of
one window are held, so memory does not grow with the file. Each window goes through the same
features and fusion model as a clip; its text comes from the subtitle cues (``CLIP.srt`` /
``CLIP.vtt``) shown during it.

A window is skipped, and counted, when it holds no speech and no face: its audio peaks below
-60 dBFS (``features.SILENCE_PEAK``, the rule a whole clip is called silent by) or there is no
audio at that time, and no frame in it shows a face (or the model does not use faces).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgemood.audio_features import AUDIO_FEATURES, FRAME_RATE, HOP, SAMPLE_RATE, audio_features
from edgemood.decode import MAX_FRAME_PIXELS, probe, stream_audio, timed_frames
from edgemood.errors import InputError
from edgemood.features import SILENCE_PEAK
from edgemood.labels import EMOTIONS, MODALITIES
from edgemood.model import ModelInputs
from edgemood.prediction import Prediction
from edgemood.subtitles import find_subtitles, read_subtitles, words_between

if TYPE_CHECKING:
    from edgemood.pipeline import Recognizer

WINDOW_S = 2.0
HOP_S = 1.0
# Audio features are computed over blocks of the stream, not per window: with 2 s windows every
# 1 s that cost 3.6 times the CPU of one pass (benchmarks/RESULTS.md). The context, 0.25 s either
# side, covers every frame's reach (64 ms pitch frames, deltas of deltas over 17 frames).
BLOCK_S = 10
CONTEXT = SAMPLE_RATE // 4


@dataclass
class Segment:
    """One analysed window: ``start`` to ``end`` seconds, its probabilities and what fed them."""

    start: float
    end: float
    probabilities: np.ndarray  # [8], EMOTIONS order
    modalities: dict[str, bool]

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    def to_json(self) -> dict[str, Any]:
        """``{"start", "end", "emotion", "probabilities", "modalities"}``."""
        return {
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "emotion": self.emotion,
            "probabilities": {e: round(float(p), 4) for e, p in zip(EMOTIONS, self.probabilities)},
            "modalities": {m: bool(self.modalities[m]) for m in MODALITIES},
        }


class _AudioWindows:
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


class _FaceWindows:
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


class Timeline:
    """Emotion over a whole recording. Iterate to get each ``Segment`` as soon as its window is
    analysed; the counts (``windows``, ``skipped``), ``notes`` and ``summary()`` fill in as it
    goes. Made by ``Recognizer.timeline``; iterated once."""

    def __init__(
        self,
        recognizer: Recognizer,
        path: str | Path,
        window_s: float = WINDOW_S,
        hop_s: float = HOP_S,
        transcript: str | None = None,
    ) -> None:
        """
        Args:
            recognizer: loaded models.
            path: a video or audio file of any length.
            window_s: window length in seconds.
            hop_s: seconds between window starts (at most ``window_s``: no gaps between windows).
            transcript: not used (text comes from subtitle cues); given, it is noted as ignored.
        """
        if not (window_s > 0 and 0 < hop_s <= window_s and math.isfinite(window_s)):
            raise ValueError(f"need 0 < hop ({hop_s:g}) <= window ({window_s:g}) seconds")
        self.recognizer = recognizer
        self.path = Path(path)
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self.transcript = transcript
        self.segments: list[Segment] = []
        self.windows = 0
        self.skipped = 0
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.file_duration: float | None = None
        self.media_end = 0.0  # seconds of the recording gone through
        self.skip_reason = "no speech and no face"
        self._used = dict.fromkeys(MODALITIES, False)
        self._started = False

    def __iter__(self) -> Iterator[Segment]:
        if self._started:
            raise RuntimeError("a Timeline is iterated once; call Recognizer.timeline again")
        self._started = True
        yield from self._run()

    def _streams(self) -> tuple[_AudioWindows | None, _FaceWindows | None, list]:
        """Open what this model uses; notes for what goes unused."""
        recognizer, notes = self.recognizer, self.notes
        use = recognizer.features.use
        info = probe(self.path)
        if not info.has_audio and not info.has_video:
            raise InputError(f"{self.path}: no audio or video stream", "not_media")
        self.file_duration = info.duration
        audio = faces = None
        if not info.has_audio:
            notes.append("no audio track")
        elif use["audio"]:
            audio = _AudioWindows(stream_audio(self.path))
        else:
            notes.append("audio not used by this model")
        if info.has_video and use["visual"]:
            if info.width * info.height > MAX_FRAME_PIXELS:
                notes.append(
                    f"video frames {info.width}x{info.height} exceed the 4096x2160 limit: "
                    "face not used"
                )
            else:
                landmarker = recognizer.features.landmarker()
                landmarker.reset()
                fps = recognizer.features.visual_fps
                features = recognizer.features.frame_features()
                frames = timed_frames(self.path, fps, None)
                faces = _FaceWindows(frames, landmarker, features, fps)
        elif info.has_video:
            notes.append("visual branch not trained in this model: face not used")
        if faces is None:
            self.skip_reason = "no speech (audio peak below -60 dBFS, or no audio)"
        else:
            self.skip_reason = "no speech (audio peak below -60 dBFS, or no audio) and no face"
        if self.transcript:
            notes.append("--transcript not used in timeline mode: text comes from subtitle cues")
        return audio, faces, self._cues()

    def _cues(self) -> list:
        sidecar = find_subtitles(self.path)
        if sidecar is None:
            if self.recognizer.features.use["text"]:
                self.notes.append("no subtitles (CLIP.srt or CLIP.vtt): text not used")
            return []
        cues = read_subtitles(sidecar)
        if not cues:
            self.notes.append(f"{sidecar.name}: no subtitle cues found: text not used")
        elif not self.recognizer.model.trained["text"]:
            self.notes.append(
                f"{sidecar.name}: {len(cues)} subtitle cues not used: "
                "text branch not trained in this model"
            )
        elif self.recognizer.features.text_encoder is None:
            self.notes.append(
                f"{sidecar.name}: {len(cues)} subtitle cues not used: "
                f"{self.recognizer.features.no_encoder}"
            )
        else:
            return cues
        return []

    def _run(self) -> Iterator[Segment]:
        clock = time.perf_counter()
        audio, faces, cues = self._streams()
        model = self.recognizer.model
        encode = _CachedEncoder(self.recognizer.features.text_encoder)
        timings = self.timings
        for key in ("decode_and_audio_features", "face", "text", "fusion"):
            timings[key] = 0.0
        index = 0
        while True:
            start = index * self.hop_s
            end = start + self.window_s
            inputs = ModelInputs()
            stage = time.perf_counter()
            if audio is not None:
                samples, frames = audio.take(start, end)
                if samples.size and len(frames) and float(np.abs(samples).max()) >= SILENCE_PEAK:
                    inputs.audio = frames
            timings["decode_and_audio_features"] += time.perf_counter() - stage
            if faces is not None:
                inputs.visual, _ = faces.take(start, end)
            streams = [s for s in (audio, faces) if s is not None]
            done = all(s.exhausted for s in streams)
            self.media_end = max([s.end_s for s in streams] + [self.media_end])
            if done and start >= self.media_end and index > 0:
                break
            stop = min(end, self.media_end) if done else end
            self.windows += 1
            if inputs.audio is None and inputs.visual is None:
                self.skipped += 1
            else:
                if cues:
                    stage = time.perf_counter()
                    inputs.text = encode(words_between(cues, start, stop))
                    timings["text"] += time.perf_counter() - stage
                stage = time.perf_counter()
                probabilities = model.predict([inputs])[0]
                timings["fusion"] += time.perf_counter() - stage
                segment = Segment(start, stop, probabilities, model.usable(inputs))
                for m in MODALITIES:
                    self._used[m] |= segment.modalities[m]
                self.segments.append(segment)
                yield segment
            if done and end >= self.media_end:
                break
            index += 1
        if faces is not None:
            timings["face"] = faces.seconds
            if faces.failure:
                self.notes.append(faces.failure)
        if audio is not None:
            timings["audio_features"] = audio.seconds
        timings["total"] = time.perf_counter() - clock
        if self.skipped:
            self.notes.append(
                f"{self.skipped} of {self.windows} windows skipped: {self.skip_reason}"
            )
        if not self.segments:
            raise InputError(
                f"{self.path}: {self.skip_reason} in any of {self.windows} windows"
                + (f" ({'; '.join(self.notes[:-1])})" if len(self.notes) > 1 else "")
            )

    def _owned(self, i: int) -> float:
        """Seconds of the recording segment ``i`` stands for: from its start to the next
        window's start (its hop), the last one to its end."""
        segment = self.segments[i]
        if i == len(self.segments) - 1 and segment.end >= self.media_end - 1e-6:
            return segment.end - segment.start
        return min(segment.start + self.hop_s, segment.end) - segment.start

    def summary(self) -> dict[str, Any]:
        """Share of the analysed time per emotion, the dominant emotion, window counts.

        Each analysed window stands for the stretch from its start to the next window's start,
        so overlapping windows are not counted twice.
        """
        seconds = dict.fromkeys(EMOTIONS, 0.0)
        for i, segment in enumerate(self.segments):
            seconds[segment.emotion] += self._owned(i)
        analysed = sum(seconds.values())
        share = {e: round(s / analysed, 4) if analysed else 0.0 for e, s in seconds.items()}
        return {
            "dominant": max(share, key=share.get) if analysed else None,
            "share": share,
            "window_s": self.window_s,
            "hop_s": self.hop_s,
            "windows": self.windows,
            "analysed_windows": len(self.segments),
            "skipped_windows": self.skipped,
            "skipped_because": self.skip_reason,
            "analysed_s": round(analysed, 3),
        }

    def prediction(self) -> Prediction:
        """The whole recording as one Prediction: probabilities averaged over the analysed
        windows (each weighted by the time it stands for)."""
        weights = np.array([self._owned(i) for i in range(len(self.segments))])
        stacked = np.stack([s.probabilities for s in self.segments])
        mean = (stacked * weights[:, None]).sum(0) / max(weights.sum(), 1e-9)
        return Prediction(
            file=str(self.path),
            probabilities=mean.astype(np.float32),
            modalities=dict(self._used),
            notes=[*self.notes, *self.recognizer.notes],
            timings=dict(self.timings),
            duration=float(weights.sum()),
            file_duration=self.file_duration,
            text_source="subtitles" if self._used["text"] else None,
        )

    def to_json(self) -> dict[str, Any]:
        """The clip's one JSON object (the shape of ``Prediction.to_json``) plus ``segments``
        and ``summary``. Call after iterating."""
        return {
            **self.prediction().to_json(),
            "segments": [s.to_json() for s in self.segments],
            "summary": self.summary(),
        }


class _CachedEncoder:
    """Text vectors of the last few window texts: overlapping windows share their cues."""

    def __init__(self, encoder, size: int = 8) -> None:
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
