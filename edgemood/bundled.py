"""The files shipped inside the package (``edgemood/assets/``), found by name through one table:
the one place that knows the layout of the assets folder."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
# Name -> path under ASSETS; where the files come from: the README of example/, face/ and text/,
# the model's card (model/model.json).
BUNDLED: dict[str, str] = {
    "model": "model",  # the default fusion model directory (model.json + ONNX/TFLite)
    "text_encoder": "text",  # the INT8 MiniLM text encoder (text_encoder.json + tokenizer)
    "face": "face",  # MediaPipe face detector and landmarker, the expression CNN
    "example": "example/example.mp4",  # the clip `edgemood infer --example` runs on
}


def bundled(name: str) -> Path:
    """The path of a bundled asset by name (``BUNDLED``)."""
    return ASSETS / BUNDLED[name]
