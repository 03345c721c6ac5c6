"""From media to per-modality features: decoding, audio features, face features, text vector.

The one place that opens a clip's streams and decides (and notes) what goes unused. A whole clip
is one window (``FeatureExtractor.__call__``); a long recording is read window by window
(``FeatureExtractor.windows``); arrays already in memory go the same way
(``FeatureExtractor.arrays``). Each gives ``Features``: the model's inputs and what was made of
them. One ``FeatureExtractor`` serves the device (asked only for the modalities its model uses)
and training (asked for all of them), so both see exactly the same features.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemood.audio_features import audio_features
from edgemood.decode import (
    MAX_FRAME_PIXELS,
    MAX_SECONDS,
    SAMPLE_RATE,
    VISUAL_FPS,
    MediaInfo,
    clean_samples,
    decode_audio,
    probe,
    read_frames,
    stream_audio,
    timed_frames,
)
from edgemood.errors import InputError
from edgemood.labels import MODALITIES
from edgemood.model import ModelInputs
from edgemood.subtitles import Cue, find_subtitles, read_subtitles, words_between
from edgemood.transcript import GIVEN, Words, find_words, is_text_file, text_file_words
from edgemood.visual_features import VISUAL_FEATURES
from edgemood.windows import AudioWindows, CachedEncoder, FaceWindows

# A track whose loudest sample stays under -60 dBFS is silence: no voice to read emotion from.
# (Peak, not RMS: the quietest RAVDESS takes have an RMS of -64 dBFS but peaks near -42 dBFS.)
SILENCE_PEAK = 1e-3
NO_SPEECH = "no speech (audio peak below -60 dBFS, or no audio)"


@dataclass
class Features:
    """The features of one window of media (a whole clip is one window) and what was made of
    them: ``notes`` say why a modality is missing or what was cut; ``timings`` are seconds per
    stage; ``start`` and ``end`` the window in seconds (a clip: 0 to its ``duration``);
    ``duration`` the seconds analysed; ``file_duration`` the seconds in
    the file (None when the container does not say); ``face_frames`` the frames the face stage
    looked at; ``text_source`` where the words the text slot holds came from (None: none)."""

    inputs: ModelInputs = field(default_factory=ModelInputs)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    start: float = 0.0
    end: float = 0.0
    duration: float = 0.0
    file_duration: float | None = None
    face_frames: int = 0
    text_source: str | None = None

    @property
    def empty(self) -> bool:
        """No speech and no face: nothing for the model to hear or see."""
        return self.inputs.audio is None and self.inputs.visual is None


@dataclass
class _Plan:
    """Which streams of a file to read, decided once for clips and windows alike, and a note
    for each stream that is there but goes unused."""

    info: MediaInfo
    audio: bool = False
    visual: bool = False
    audio_notes: list[str] = field(default_factory=list)
    visual_notes: list[str] = field(default_factory=list)


class FeatureExtractor:
    """Computes the features of the modalities asked for; a missing one stays None."""

    def __init__(
        self,
        use: dict[str, bool] | None = None,
        threads: int = 1,
        text_encoder: Callable[[str], np.ndarray] | None = None,
        visual_fps: float = VISUAL_FPS,
        visual_features: Sequence[str] = VISUAL_FEATURES,
        no_encoder: str = "no text encoder installed",
    ) -> None:
        """
        Args:
            use: modality -> whether to compute it (default: all).
            threads: threads for the face models.
            text_encoder: a text encoder (``TextEncoder``, or a ``LazyTextEncoder`` that loads
                on the first clip with words); without one the text slot stays missing.
            visual_fps: face frames sampled per second of video.
            visual_features: the per-frame visual features, by name, as a model card lists them
                (default: the 35 geometry features).
            no_encoder: why there is no text encoder, for the note of a clip with words.
        """
        self.use = dict.fromkeys(MODALITIES, True) if use is None else dict(use)
        self.threads = threads
        self.text_encoder = text_encoder
        self.visual_fps = visual_fps
        self.visual_features = tuple(visual_features)
        self.no_encoder = no_encoder
        self._landmarker = None
        self._frame_features = None

    def landmarker(self):
        """The face landmarker, loaded on first use (a clip without video never loads it)."""
        if self._landmarker is None:
            from edgemood.face import FaceLandmarker

            self._landmarker = FaceLandmarker(threads=self.threads)
        return self._landmarker

    def frame_features(self):
        """The per-frame visual features (a FrameFeatures over ``visual_features``), loaded on
        first use."""
        if self._frame_features is None:
            from edgemood.visual_features import FrameFeatures

            self._frame_features = FrameFeatures(self.visual_features, threads=self.threads)
        return self._frame_features

    # -- what to read -------------------------------------------------------------------------

    def _plan(self, info: MediaInfo) -> _Plan:
        """Which streams this extractor reads from media like ``info``."""
        plan = _Plan(info)
        if not info.has_audio:
            plan.audio_notes.append("no audio track")
        elif self.use["audio"]:
            plan.audio = True
        else:
            plan.audio_notes.append("audio not used by this model")
        if info.has_video and self.use["visual"]:
            if info.width * info.height > MAX_FRAME_PIXELS:
                plan.visual_notes.append(
                    f"video frames {info.width}x{info.height} exceed the 4096x2160 limit: "
                    "face not used"
                )
            else:
                plan.visual = True
        elif info.has_video:
            plan.visual_notes.append("visual branch not trained in this model: face not used")
        return plan

    def _open(self, path: Path) -> _Plan:
        info = probe(path)
        if not info.has_audio and not info.has_video:
            raise InputError(f"{path}: no audio or video stream", "not_media")
        return self._plan(info)

    # -- a whole clip -------------------------------------------------------------------------

    def __call__(self, path: str | Path, transcript: str | None = None) -> Features:
        """Decode a clip and compute its features.

        Args:
            path: a video or audio file; a ``.txt`` file is a text-only input (its content is
                the words, nothing is decoded).
            transcript: the spoken words, if known (else, in order: sidecar CLIP.txt, the
                CLIP.srt/CLIP.vtt cues of the analysed span, the RAVDESS name;
                ``edgemood.transcript``).
        Raises:
            InputError: the file is missing, unreadable, or holds no audio or video stream.
        """
        path = Path(path)
        if is_text_file(path):
            return self._text_only(path, transcript)
        out = Features()
        clock = time.perf_counter()
        plan = self._open(path)
        info = plan.info
        out.file_duration = info.duration
        # Decoding stops at MAX_SECONDS (decode.py): the analysed span is at most that much.
        out.duration = min(info.duration or 0.0, MAX_SECONDS)
        if info.duration and info.duration > MAX_SECONDS:
            out.notes.append(_cut_note(info.duration))
        out.notes += plan.audio_notes
        if plan.audio:
            samples = decode_audio(path)
            out.timings["decode"] = time.perf_counter() - clock
            self._audio(samples, out)
            if out.inputs.audio is not None:
                out.duration = len(samples) / SAMPLE_RATE
                if not info.duration and out.duration >= MAX_SECONDS:  # a stream without a length
                    out.notes.append(
                        f"only the first {MAX_SECONDS:g} s analysed (file length unknown)"
                    )
        out.notes += plan.visual_notes
        if plan.visual:
            self._visual(lambda: read_frames(path, self.visual_fps), out)
        # Cues are read up to the end of what was analysed (at most MAX_SECONDS).
        span = out.duration if out.duration > 0 else MAX_SECONDS
        self._text(find_words(path, transcript, span), out)
        out.end = out.duration
        return out

    def arrays(
        self,
        audio: np.ndarray | None = None,
        frames: Iterable[np.ndarray] | None = None,
        text: str | None = None,
    ) -> Features:
        """The features of media already in memory, with the rules a file gets.

        Args:
            audio: mono samples at 16 kHz (float in [-1, 1]).
            frames: face frames (uint8 [height, width, 3], BGR as OpenCV gives them), each
                looked at; sample them at a few per second (``VISUAL_FPS``) as files are.
            text: the spoken words.
        """
        out = Features()
        first = None
        if frames is not None:
            frames = iter(frames)
            first = next(frames, None)
            if first is not None:
                frames = itertools.chain([first], frames)
        height, width = first.shape[:2] if first is not None else (0, 0)
        has_video = frames is not None
        plan = self._plan(MediaInfo(audio is not None, has_video, None, width, height))
        out.notes += plan.audio_notes
        if plan.audio:
            samples = _samples(audio)
            if len(samples) > MAX_SECONDS * SAMPLE_RATE:
                out.notes.append(_cut_note(len(samples) / SAMPLE_RATE))
                samples = samples[: int(MAX_SECONDS * SAMPLE_RATE)]
            self._audio(samples, out)
            out.duration = out.end = len(samples) / SAMPLE_RATE
        out.notes += plan.visual_notes
        if plan.visual:
            self._visual(lambda: frames, out)
        words = Words()
        if text is not None and text.strip():
            words = Words(" ".join(text.split()), "transcript", "the text given")
        elif text is not None:
            words.notes.append("the text given is empty: not used")
        self._text(words, out)
        return out

    def _text_only(self, path: Path, transcript: str | None) -> Features:
        """A ``.txt`` input: its content is the words; no audio, no face."""
        words = text_file_words(path)
        out = Features()
        if transcript is not None:
            out.notes.append(f"--transcript not used: the words of {path.name} are its content")
        self._text(words, out)
        return out

    def _audio(self, samples: np.ndarray | None, out: Features) -> None:
        """Audio features into ``out`` unless the track is empty or silent (noted)."""
        if samples is None or samples.size == 0:
            out.notes.append("audio track is empty")
        elif float(np.abs(samples).max()) < SILENCE_PEAK:
            out.notes.append("audio is silent")
        else:
            clock = time.perf_counter()
            out.inputs.audio = audio_features(samples)
            out.timings["audio_features"] = time.perf_counter() - clock

    def _visual(self, frames: Callable[[], Iterable[np.ndarray]], out: Features) -> None:
        """Face features into ``out``, and the number of frames looked at."""
        from edgemood.visual_features import visual_features

        clock = time.perf_counter()
        landmarker = self.landmarker()
        landmarker.reset()
        try:
            rows, seen = visual_features(frames(), landmarker, self.frame_features())
        except InputError as exc:  # the audio may still be fine: report the face as missing
            out.notes.append(f"video could not be read ({exc.reason}): face not used")
            return
        out.timings["face"] = time.perf_counter() - clock
        out.face_frames = seen
        if len(rows):
            out.inputs.visual = rows
            if len(rows) < seen:
                out.notes.append(f"no face in {seen - len(rows)} of {seen} frames")
        else:
            out.notes.append(f"no face found in {seen} frames" if seen else "no decodable frames")

    def _text(self, words: Words, out: Features) -> None:
        """The text vector into ``out`` when the model reads text and there are words; a note
        for words that go unused."""
        out.notes += words.notes
        if not words.text:
            if self.use["text"] and not words.notes:
                out.notes.append(
                    "no transcript (--transcript, CLIP.txt, CLIP.srt/.vtt): text not used"
                )
            return
        if not self.use["text"]:
            if words.source in GIVEN:
                out.notes.append(
                    f"words from {words.label} not used: text branch not trained in this model"
                )
            return
        if self.text_encoder is None:
            out.notes.append(f"{self.no_encoder}: text not used (words from {words.label})")
            return
        clock = time.perf_counter()
        out.inputs.text = self.text_encoder(words.text)
        out.timings["text"] = time.perf_counter() - clock
        out.text_source = words.source

    # -- a recording, window by window --------------------------------------------------------

    def windows(
        self, path: str | Path, window_s: float, hop_s: float, transcript: str | None = None
    ) -> Windows:
        """The windows of a whole recording (``Windows``), read as they are iterated."""
        return Windows(self, Path(path), window_s, hop_s, transcript)

    def _window_cues(self, path: Path, notes: list[str]) -> list[Cue]:
        """The subtitle cues that give windows their words, or none (noted)."""
        sidecar = find_subtitles(path)
        if sidecar is None:
            if self.use["text"]:
                notes.append("no subtitles (CLIP.srt or CLIP.vtt): text not used")
            return []
        cues = read_subtitles(sidecar)
        if not cues:
            notes.append(f"{sidecar.name}: no subtitle cues found: text not used")
        elif not self.use["text"]:
            notes.append(
                f"{sidecar.name}: {len(cues)} subtitle cues not used: "
                "text branch not trained in this model"
            )
        elif self.text_encoder is None:
            notes.append(f"{sidecar.name}: {len(cues)} subtitle cues not used: {self.no_encoder}")
        else:
            return cues
        return []


class Windows:
    """A recording cut into windows of ``window_s`` seconds every ``hop_s`` seconds. Iterate
    (once) for each window's ``Features`` in time order, those with no speech and no face
    included (``Features.empty``); the file is opened on the first step. ``notes``, ``timings``,
    ``file_duration``, ``media_end`` (seconds gone through) and ``skip_reason`` (why an empty
    window is empty) fill in as it goes. Text comes from the subtitle cues shown in a window."""

    def __init__(
        self,
        extractor: FeatureExtractor,
        path: Path,
        window_s: float,
        hop_s: float,
        transcript: str | None = None,
    ) -> None:
        if not (window_s > 0 and 0 < hop_s <= window_s and math.isfinite(window_s)):
            raise ValueError(f"need 0 < hop ({hop_s:g}) <= window ({window_s:g}) seconds")
        self.extractor = extractor
        self.path = path
        self.window_s = float(window_s)
        self.hop_s = float(hop_s)
        self.transcript = transcript
        self.notes: list[str] = []
        self.timings: dict[str, float] = {}
        self.file_duration: float | None = None
        self.media_end = 0.0
        self.skip_reason = "no speech and no face"

    def _streams(self) -> tuple[AudioWindows | None, FaceWindows | None, list[Cue]]:
        extractor, notes = self.extractor, self.notes
        plan = extractor._open(self.path)
        notes += plan.audio_notes + plan.visual_notes
        self.file_duration = plan.info.duration
        audio = AudioWindows(stream_audio(self.path)) if plan.audio else None
        faces = None
        if plan.visual:
            landmarker = extractor.landmarker()
            landmarker.reset()
            fps = extractor.visual_fps
            frames = timed_frames(self.path, fps, None)
            faces = FaceWindows(frames, landmarker, extractor.frame_features(), fps)
        self.skip_reason = NO_SPEECH if faces is None else f"{NO_SPEECH} and no face"
        if self.transcript:
            notes.append("--transcript not used in timeline mode: text comes from subtitle cues")
        return audio, faces, extractor._window_cues(self.path, notes)

    def __iter__(self) -> Iterator[Features]:
        audio, faces, cues = self._streams()
        encode = CachedEncoder(self.extractor.text_encoder)
        timings = self.timings
        for key in ("decode_and_audio_features", "face", "text"):
            timings[key] = 0.0
        index = 0
        while True:
            start = index * self.hop_s
            end = start + self.window_s
            window = Features(start=start)
            stage = time.perf_counter()
            if audio is not None:
                samples, frames = audio.take(start, end)
                if samples.size and len(frames) and float(np.abs(samples).max()) >= SILENCE_PEAK:
                    window.inputs.audio = frames
            timings["decode_and_audio_features"] += time.perf_counter() - stage
            if faces is not None:
                window.inputs.visual, window.face_frames = faces.take(start, end)
            streams = [s for s in (audio, faces) if s is not None]
            done = all(s.exhausted for s in streams)
            self.media_end = max([s.end_s for s in streams] + [self.media_end])
            if done and start >= self.media_end and index > 0:
                break
            window.end = min(end, self.media_end) if done else end
            window.duration = window.end - start
            window.file_duration = self.file_duration
            if cues and not window.empty:
                stage = time.perf_counter()
                window.inputs.text = encode(words_between(cues, start, window.end))
                timings["text"] += time.perf_counter() - stage
                window.text_source = "subtitles" if window.inputs.text is not None else None
            yield window
            if done and end >= self.media_end:
                break
            index += 1
        if faces is not None:
            timings["face"] = faces.seconds
            if faces.failure:
                self.notes.append(faces.failure)
        if audio is not None:
            timings["audio_features"] = audio.seconds


def _cut_note(seconds: float) -> str:
    return (
        f"only the first {MAX_SECONDS:g} s of {seconds:.1f} s analysed "
        f"(clips are cut at {MAX_SECONDS:g} s)"
    )


def _samples(audio: np.ndarray) -> np.ndarray:
    """Mono float32 samples in [-1, 1], as the decoder gives them (integer PCM is scaled)."""
    samples = np.asarray(audio).reshape(-1)
    if np.issubdtype(samples.dtype, np.integer):
        samples = samples / float(np.iinfo(samples.dtype).max)
    return clean_samples(samples)
