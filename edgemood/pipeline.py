"""From media to a prediction: features (edgemood.features) -> fusion model -> Prediction.

``Recognizer`` loads every model once and is reused for many clips (CLI globs, the service).
Only the modalities the loaded fusion model was trained on are computed: a face stage for an
untrained visual branch would cost time and change nothing. A clip is one window; a whole
recording is many (``Recognizer.timeline``), read through the same features.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edgemood.bundled import bundled
from edgemood.decode import VISUAL_FPS
from edgemood.errors import InputError, ModelError
from edgemood.features import FeatureExtractor, Features
from edgemood.model import FusionModel
from edgemood.prediction import Prediction
from edgemood.text import (
    LazyTextEncoder,
    bundled_text_encoder,
    encoder_mismatch,
    find_text_encoder,
    read_manifest,
)
from edgemood.timeline import HOP_S, WINDOW_S, Timeline
from edgemood.transcript import is_text_file

EXAMPLE_CLIP = bundled("example")


class Recognizer:
    """Emotion recognition for clips, with models loaded once."""

    def __init__(
        self,
        model: str | Path | None = None,
        backend: str | None = None,
        precision: str | None = None,
        threads: int = 1,
        text_encoder: str | Path | None = None,
        visual_fps: float = VISUAL_FPS,
    ) -> None:
        """
        Args:
            model: model directory or file; None: the bundled default model.
            backend: 'onnx' or 'tflite' (default: the model directory's default file).
            precision: 'fp32' or 'int8'.
            threads: threads per runtime session.
            text_encoder: directory of an exported text encoder (else $EDGEMOOD_TEXT_ENCODER,
                else the bundled one when installed); loaded on the first clip with words.
                Without one the text slot is marked missing.
            visual_fps: face frames sampled per second of video.
        """
        self.model = FusionModel(model, backend=backend, precision=precision, threads=threads)
        # Notes for every clip: what was given but goes unused.
        self.notes: list[str] = []
        directory = find_text_encoder(Path(text_encoder) if text_encoder else None)
        encoder, no_encoder = None, "no text encoder installed"
        if self.model.trained["text"]:
            encoder, no_encoder = self._text_encoder(directory, threads)
        elif directory is not None:
            read_manifest(directory)  # a wrong path fails here too, not only with a text model
            self.notes.append("text branch not trained in this model: text encoder not used")
        self.features = FeatureExtractor(
            use=self.model.trained,
            threads=threads,
            text_encoder=encoder,
            visual_fps=visual_fps,
            visual_features=self.model.visual_features,
            no_encoder=no_encoder,
        )

    def _text_encoder(self, given: Path | None, threads: int) -> tuple[LazyTextEncoder | None, str]:
        """The encoder for a model with a text branch (built on the first clip with words), or
        None and why. An encoder given that does not fit fails (ModelError, one line); so does
        the bundled one when the card names another encoder. For an older card that names none,
        a bundled encoder of another width is left unused, with a note on each clip with words."""
        directory = given or bundled_text_encoder()
        if directory is None:
            return None, "no text encoder installed"
        manifest = read_manifest(directory)
        origin = "given" if given is not None else "bundled"
        problem = encoder_mismatch(
            self.model.card, self.model.directory, manifest, directory, origin
        )
        if problem is None:
            return LazyTextEncoder(directory, threads=threads), ""
        if given is not None or self.model.card.text_encoder is not None:
            raise ModelError(problem)
        return None, (
            f"the bundled text encoder ({manifest.get('dim')}-d) does not fit this model's "
            f"{self.model.text_dim}-d text slot; pass --text-encoder"
        )

    def predict(
        self,
        path: str | Path | None = None,
        transcript: str | None = None,
        *,
        audio: np.ndarray | None = None,
        frames: Iterable[np.ndarray] | None = None,
        text: str | None = None,
    ) -> Prediction:
        """Predict the emotion of one clip: a file, or media already in memory.

        Args:
            path: a video (mp4, mkv, avi, ...) or audio (wav, flac, ...) file.
            transcript: the spoken words; else a sidecar CLIP.txt, the CLIP.srt/CLIP.vtt cues or
                the RAVDESS statement is used. A ``.txt`` path is a text-only input.
            audio: instead of a file: mono samples at 16 kHz (float in [-1, 1]).
            frames: instead of a file: face frames (uint8 [height, width, 3], BGR as OpenCV
                gives them), sampled at a few per second (``edgemood.decode.VISUAL_FPS``).
            text: instead of a file: the spoken words.
        Returns:
            The Prediction, with per-stage timings in seconds (``file`` is "<arrays>" for media
            given as arrays).
        Raises:
            InputError: unreadable input, or no modality this model can use.
            ValueError: both a path and arrays, or neither.
        """
        given = audio is not None or frames is not None or text is not None
        if (path is None) == (not given):
            raise ValueError("predict takes a path or arrays (audio, frames, text), not both")
        if path is not None:
            return self._predict(str(path), self.features(path, transcript))
        return self._predict("<arrays>", self.features.arrays(audio, frames, text))

    def _predict(self, name: str, features: Features) -> Prediction:
        used = self.model.usable(features.inputs)
        if not any(used.values()):
            reason = "; ".join(features.notes) or "nothing usable"
            raise InputError(f"{name}: no usable audio, face or text ({reason})")
        clock = time.perf_counter()
        probabilities = self.model.predict([features.inputs])[0]
        features.timings["fusion"] = time.perf_counter() - clock
        return Prediction(
            file=name,
            probabilities=probabilities,
            modalities=used,
            notes=[*features.notes, *self.notes],
            timings=features.timings,
            duration=features.duration,
            file_duration=features.file_duration,
            text_source=features.text_source,
        )

    def timeline(
        self,
        path: str | Path,
        window_s: float = WINDOW_S,
        hop_s: float = HOP_S,
        transcript: str | None = None,
    ) -> Timeline:
        """Follow a whole recording over time, window by window, in bounded memory.

        Args:
            path: a video or audio file of any length.
            window_s: window length in seconds.
            hop_s: seconds between window starts.
            transcript: not used (text comes from ``CLIP.srt``/``CLIP.vtt`` cues); noted.
        Returns:
            A Timeline: iterate it for the Segments as they are ready, then read its
            ``summary()`` or ``to_json()``. Iterating raises InputError for an unreadable file or
            one with no speech or face in any window.
        Raises:
            InputError: ``path`` is a text file (no timeline: it has no time).
        """
        if is_text_file(path):
            raise InputError(f"{path}: a text file has no timeline (infer it without --timeline)")
        windows = self.features.windows(path, window_s, hop_s, transcript)
        return Timeline(windows, self.model, self.notes)
