"""From a clip to per-modality features: decoding, audio features, face features, text vector.

One ``FeatureExtractor`` serves the device (asked only for the modalities its model uses) and
training (asked for all of them), so both see exactly the same features.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edgemood.audio_features import SAMPLE_RATE, audio_features
from edgemood.decode import (
    MAX_FRAME_PIXELS,
    MAX_SECONDS,
    VISUAL_FPS,
    decode_audio,
    probe,
    read_frames,
)
from edgemood.errors import InputError
from edgemood.labels import MODALITIES
from edgemood.model import ModelInputs
from edgemood.transcript import GIVEN, Words, find_words, is_text_file, text_file_words
from edgemood.visual_features import VISUAL_FEATURES

# A track whose loudest sample stays under -60 dBFS is silence: no voice to read emotion from.
# (Peak, not RMS: the quietest RAVDESS takes have an RMS of -64 dBFS but peaks near -42 dBFS.)
SILENCE_PEAK = 1e-3


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
        """The face landmarker, loaded on first use (a clip without video never loads it); shared
        by whole-clip features and the timeline."""
        if self._landmarker is None:
            from edgemood.face import FaceLandmarker

            self._landmarker = FaceLandmarker(threads=self.threads)
        return self._landmarker

    def frame_features(self):
        """The per-frame visual features (a FrameFeatures over ``visual_features``), loaded on
        first use; shared by whole-clip features and the timeline."""
        if self._frame_features is None:
            from edgemood.visual_features import FrameFeatures

            self._frame_features = FrameFeatures(self.visual_features, threads=self.threads)
        return self._frame_features

    def __call__(self, path: str | Path, transcript: str | None = None) -> tuple[ModelInputs, dict]:
        """Decode a clip and compute its features.

        Args:
            path: a video or audio file; a ``.txt`` file is a text-only input (its content is
                the words, nothing is decoded).
            transcript: the spoken words, if known (else, in order: sidecar CLIP.txt, the
                CLIP.srt/CLIP.vtt cues of the analysed span, the RAVDESS name;
                ``edgemood.transcript``).
        Returns:
            (inputs, info): info holds 'notes' (why a modality is missing, what was cut),
            'timings' (seconds per stage), 'duration' (seconds analysed), 'file_duration'
            (seconds in the file, None when the container does not say), 'face_frames'
            (frames the face stage looked at) and 'text_source' (where the words the text slot
            holds came from, None when it holds none).
        Raises:
            InputError: the file is missing, unreadable, or holds no audio or video stream.
        """
        path = Path(path)
        if is_text_file(path):
            return self._text_only(path, transcript)
        timings: dict[str, float] = {}
        notes: list[str] = []
        inputs = ModelInputs()
        clock = time.perf_counter()
        info = probe(path)
        if not info.has_audio and not info.has_video:
            raise InputError(f"{path}: no audio or video stream", "not_media")
        # Decoding stops at MAX_SECONDS (decode.py): the analysed span is at most that much.
        duration = min(info.duration or 0.0, MAX_SECONDS)
        if info.duration and info.duration > MAX_SECONDS:
            notes.append(
                f"only the first {MAX_SECONDS:g} s of {info.duration:.1f} s analysed "
                f"(clips are cut at {MAX_SECONDS:g} s)"
            )

        if not info.has_audio:
            notes.append("no audio track")
        elif self.use["audio"]:
            samples = decode_audio(path)
            timings["decode"] = time.perf_counter() - clock
            if samples is None or samples.size == 0:
                notes.append("audio track is empty")
            elif float(np.abs(samples).max()) < SILENCE_PEAK:
                notes.append("audio is silent")
            else:
                clock = time.perf_counter()
                inputs.audio = audio_features(samples)
                timings["audio_features"] = time.perf_counter() - clock
                duration = len(samples) / SAMPLE_RATE
                if not info.duration and duration >= MAX_SECONDS:  # a stream without a length
                    notes.append(f"only the first {MAX_SECONDS:g} s analysed (file length unknown)")
        else:
            notes.append("audio not used by this model")

        face_frames = 0
        if info.has_video and self.use["visual"]:
            if info.width * info.height > MAX_FRAME_PIXELS:
                notes.append(
                    f"video frames {info.width}x{info.height} exceed the 4096x2160 limit: "
                    "face not used"
                )
            else:
                face_frames = self._visual(path, inputs, notes, timings)
        elif info.has_video:
            notes.append("visual branch not trained in this model: face not used")

        # Cues are read up to the end of what was analysed (at most MAX_SECONDS).
        words = find_words(path, transcript, duration if duration > 0 else MAX_SECONDS)
        return inputs, {
            "notes": notes,
            "timings": timings,
            "duration": duration,
            "file_duration": info.duration,
            "face_frames": face_frames,
            "text_source": self._text(words, inputs, notes, timings),
        }

    def _text_only(self, path: Path, transcript: str | None) -> tuple[ModelInputs, dict]:
        """A ``.txt`` input: its content is the words; no audio, no face."""
        words = text_file_words(path)
        notes: list[str] = []
        if transcript is not None:
            notes.append(f"--transcript not used: the words of {path.name} are its content")
        inputs, timings = ModelInputs(), {}
        source = self._text(words, inputs, notes, timings)
        return inputs, {
            "notes": notes,
            "timings": timings,
            "duration": 0.0,
            "file_duration": None,
            "face_frames": 0,
            "text_source": source,
        }

    def _visual(self, path: Path, inputs: ModelInputs, notes: list, timings: dict) -> int:
        """Face features into ``inputs``; returns the number of frames looked at."""
        from edgemood.visual_features import visual_features

        clock = time.perf_counter()
        landmarker = self.landmarker()
        landmarker.reset()
        try:
            frames = read_frames(path, self.visual_fps)
            rows, seen = visual_features(frames, landmarker, self.frame_features())
        except InputError as exc:  # the audio may still be fine: report the face as missing
            notes.append(f"video could not be read ({exc.reason}): face not used")
            return 0
        timings["face"] = time.perf_counter() - clock
        if len(rows):
            inputs.visual = rows
            if len(rows) < seen:
                notes.append(f"no face in {seen - len(rows)} of {seen} frames")
        else:
            notes.append(f"no face found in {seen} frames" if seen else "no decodable frames")
        return seen

    def _text(self, words: Words, inputs: ModelInputs, notes: list, timings: dict) -> str | None:
        """The text vector into ``inputs`` when the model reads text and there are words; a note
        for words that go unused. Returns the words' source when they were used."""
        notes += words.notes
        if not words.text:
            if self.use["text"] and not words.notes:
                notes.append("no transcript (--transcript, CLIP.txt, CLIP.srt/.vtt): text not used")
            return None
        if not self.use["text"]:
            if words.source in GIVEN:
                notes.append(
                    f"words from {words.label} not used: text branch not trained in this model"
                )
            return None
        if self.text_encoder is None:
            notes.append(f"{self.no_encoder}: text not used (words from {words.label})")
            return None
        clock = time.perf_counter()
        inputs.text = self.text_encoder(words.text)
        timings["text"] = time.perf_counter() - clock
        return words.source
