"""The result of one clip, and its JSON line (a shape other tools depend on: keep it stable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgemood.labels import EMOTIONS, MODALITIES, sentiment_of


@dataclass
class Prediction:
    """Emotion probabilities of one clip, the modalities that fed them, time per stage."""

    file: str
    probabilities: np.ndarray  # [8], EMOTIONS order
    modalities: dict[str, bool]
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    duration: float = 0.0  # seconds of media analysed
    file_duration: float | None = None  # seconds in the file (None: the container does not say)
    # Where the words the model read came from (edgemood.transcript), None when it read none.
    text_source: str | None = None

    @property
    def emotion(self) -> str:
        return EMOTIONS[int(np.argmax(self.probabilities))]

    @property
    def sentiment(self) -> str:
        return sentiment_of(self.emotion)

    def to_json(self) -> dict[str, Any]:
        """``{"file", "emotion", "sentiment", "probabilities", "modalities", "text_source",
        "analysed_s", "duration_s", "notes"}``: ``text_source`` says where the words the model
        read came from (transcript, sidecar_txt, subtitles, ravdess_name, text_file; null when
        it read none), ``analysed_s`` is the span the prediction rests on (long clips are cut),
        ``duration_s`` the file's length (null when unknown), ``notes`` what was cut, skipped or
        missing (the lines the text output prints as ``note:``)."""
        return {
            "file": self.file,
            "emotion": self.emotion,
            "sentiment": self.sentiment,
            "probabilities": {
                name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probabilities)
            },
            "modalities": {m: bool(self.modalities[m]) for m in MODALITIES},
            "text_source": self.text_source if self.modalities.get("text") else None,
            "analysed_s": round(float(self.duration), 3),
            "duration_s": None if self.file_duration is None else round(self.file_duration, 3),
            "notes": list(self.notes),
        }


def error_json(file: str, reason: str) -> dict[str, str]:
    """The JSON line for a clip that could not be processed; the reason without the file name
    in front (errors are worded ``FILE: why`` for stderr, and "file" already says which)."""
    prefix = f"{file}: "
    return {"file": file, "error": reason[len(prefix) :] if reason.startswith(prefix) else reason}
