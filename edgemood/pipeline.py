"""From a clip to a prediction: features (edgemood.features) -> fusion model -> Prediction.

``Recognizer`` loads every model once and is reused for many clips (CLI globs, the service).
Only the modalities the loaded fusion model was trained on are computed: a face stage for an
untrained visual branch would cost time and change nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from edgemood.decode import VISUAL_FPS
from edgemood.errors import InputError
from edgemood.features import FeatureExtractor
from edgemood.model import FusionModel
from edgemood.prediction import Prediction
from edgemood.text import TextEncoder, find_text_encoder, read_manifest
from edgemood.timeline import HOP_S, WINDOW_S, Timeline

EXAMPLE_CLIP = Path(__file__).parent / "assets" / "example" / "example.mp4"


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
            text_encoder: directory of an exported text encoder (else $EDGEMOOD_TEXT_ENCODER);
                without one the text slot is marked missing.
            visual_fps: face frames sampled per second of video.
        """
        self.model = FusionModel(model, backend=backend, precision=precision, threads=threads)
        encoder = None
        # Notes for every clip: what was given but goes unused.
        self.notes: list[str] = []
        directory = find_text_encoder(Path(text_encoder) if text_encoder else None)
        if self.model.trained["text"]:
            encoder = TextEncoder(directory, threads=threads) if directory else None
        elif directory is not None:
            read_manifest(directory)  # a wrong path fails here too, not only with a text model
            self.notes.append("text branch not trained in this model: text encoder not used")
        self.features = FeatureExtractor(
            use=self.model.trained,
            threads=threads,
            text_encoder=encoder,
            visual_fps=visual_fps,
            visual_features=self.model.visual_features,
        )

    def predict(self, path: str | Path, transcript: str | None = None) -> Prediction:
        """Predict the emotion of one clip.

        Args:
            path: a video (mp4, mkv, avi, ...) or audio (wav, flac, ...) file.
            transcript: the spoken words; else a sidecar .txt or the RAVDESS statement is used.
        Returns:
            The Prediction, with per-stage timings in seconds.
        Raises:
            InputError: unreadable input, or no modality this model can use.
        """
        inputs, info = self.features(path, transcript)
        used = self.model.usable(inputs)
        if not any(used.values()):
            reason = "; ".join(info["notes"]) or "nothing usable"
            raise InputError(f"{path}: no usable audio, face or text ({reason})")
        clock = time.perf_counter()
        probabilities = self.model.predict([inputs])[0]
        info["timings"]["fusion"] = time.perf_counter() - clock
        return Prediction(
            file=str(path),
            probabilities=probabilities,
            modalities=used,
            notes=[*info["notes"], *self.notes],
            timings=info["timings"],
            duration=info["duration"],
            file_duration=info["file_duration"],
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
        """
        return Timeline(self, path, window_s, hop_s, transcript)
