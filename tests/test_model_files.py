"""Which model file runs for each --backend/--precision combination (runtime only, no torch)."""

from __future__ import annotations

import json
import shutil

import pytest

from edgemood.errors import ModelError
from edgemood.model import CARD_NAME, DEFAULT_MODEL_DIR, FusionModel


@pytest.mark.parametrize(
    ("backend", "precision", "expected"),
    [
        (None, None, "fusion.int8.onnx"),  # the card's default
        ("tflite", None, "fusion.int8.tflite"),  # the default's precision carries over
        ("onnx", None, "fusion.int8.onnx"),
        (None, "fp32", "fusion.onnx"),  # the default's backend carries over
        (None, "int8", "fusion.int8.onnx"),
        ("tflite", "fp32", "fusion.tflite"),
        ("onnx", "fp32", "fusion.onnx"),
        ("tflite", "int8", "fusion.int8.tflite"),
    ],
)
def test_bundled_model_file_for_each_flag_combination(backend, precision, expected):
    card = json.loads((DEFAULT_MODEL_DIR / CARD_NAME).read_text())
    assert card["default"] == "fusion.int8.onnx"  # the table above assumes the shipped default
    model = FusionModel(backend=backend, precision=precision)
    assert model.file.name == expected
    assert model.backend_name == (backend or "onnx")


def test_missing_precision_for_the_other_backend_falls_back_to_fp32(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    card = json.loads((model_dir / CARD_NAME).read_text())
    del card["files"]["tflite_int8"]
    (model_dir / CARD_NAME).write_text(json.dumps(card))
    assert FusionModel(model_dir, backend="tflite").file.name == "fusion.tflite"
    with pytest.raises(ModelError, match="no tflite_int8 model"):
        FusionModel(model_dir, backend="tflite", precision="int8")
