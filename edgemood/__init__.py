"""edgemood: multimodal (voice, face, words) emotion recognition for edge devices.

    from edgemood import Recognizer

    recognizer = Recognizer()  # the bundled model; loaded once, reused for many clips
    prediction = recognizer.predict("clip.mp4")  # or predict(audio=samples_16k, text="...")
    print(prediction.emotion, prediction.sentiment, prediction.probabilities)

Names are imported on first use, so ``import edgemood`` (and the service's main process, the
CLI's ``--help``) does not load the runtime.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public name -> module that defines it.
_EXPORTS = {
    "Recognizer": "edgemood.pipeline",
    "Prediction": "edgemood.prediction",
    "Segment": "edgemood.timeline",
    "Timeline": "edgemood.timeline",
    "EMOTIONS": "edgemood.labels",
    "MODALITIES": "edgemood.labels",
    "EdgemoodError": "edgemood.errors",
    "InputError": "edgemood.errors",
    "ModelError": "edgemood.errors",
}

__all__ = [
    "EMOTIONS",
    "MODALITIES",
    "EdgemoodError",
    "InputError",
    "ModelError",
    "Prediction",
    "Recognizer",
    "Segment",
    "Timeline",
    "__version__",
]

if TYPE_CHECKING:
    from edgemood.errors import EdgemoodError, InputError, ModelError
    from edgemood.labels import EMOTIONS, MODALITIES
    from edgemood.pipeline import Recognizer
    from edgemood.prediction import Prediction
    from edgemood.timeline import Segment, Timeline


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'edgemood' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
