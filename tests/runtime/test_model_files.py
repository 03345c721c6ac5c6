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
def test_model_file_for_each_flag_combination(int8_default, backend, precision, expected):
    model = FusionModel(int8_default, backend=backend, precision=precision)
    assert model.file.name == expected
    assert model.backend_name == (backend or "onnx")


@pytest.fixture(scope="module")
def int8_default(tmp_path_factory):
    """The bundled model's four files under a card whose default is INT8 ONNX (how the README's
    table reads for such a model: what is not asked carries over from the default)."""
    model_dir = tmp_path_factory.mktemp("int8_default") / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    card = json.loads((model_dir / CARD_NAME).read_text())
    card["default"] = "fusion.int8.onnx"
    (model_dir / CARD_NAME).write_text(json.dumps(card))
    return model_dir


@pytest.mark.parametrize(
    ("backend", "precision", "expected"),
    [
        (None, None, "fusion.onnx"),  # the bundled card's default: FP32 ONNX (README)
        ("tflite", None, "fusion.tflite"),
        (None, "int8", "fusion.int8.onnx"),
        ("tflite", "int8", "fusion.int8.tflite"),
    ],
)
def test_bundled_model_file(backend, precision, expected):
    assert FusionModel(backend=backend, precision=precision).file.name == expected


def test_missing_precision_for_the_other_backend_falls_back_to_fp32(tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, model_dir)
    card = json.loads((model_dir / CARD_NAME).read_text())
    del card["files"]["tflite_int8"]
    (model_dir / CARD_NAME).write_text(json.dumps(card))
    assert FusionModel(model_dir, backend="tflite").file.name == "fusion.tflite"
    with pytest.raises(ModelError, match="no tflite_int8 model"):
        FusionModel(model_dir, backend="tflite", precision="int8")
