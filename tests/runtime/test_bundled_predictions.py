"""The bundled model's answers on the committed clips are pinned (issue 19).

The three RAVDESS fixtures and the ``--example`` clip must get the labels the READMEs give them
(angry, happy, sad; the example's voice is the happy fixture) from every model file the bundled
card lists, and their 8 probabilities must stay within a tolerance of the stored record
``tests/fixtures/bundled_predictions.json``. A change in decoding, features or the runtime path
that moves the model's inputs moves these numbers; the labels alone would miss most of them.

The record is regenerated only on purpose, when the bundled model is retrained or re-quantized,
with ``python tests/bundled_predictions.py`` (from the repository root; it prints each label).

Tolerances, from what was measured on 2026-11-25 (2-core x86-64): the FP32 ONNX and FP32 TFLite
runtimes differ by at most 2.4e-7 on these clips, so FP32 files are held to 1e-4 (room for other
CPUs' float summation order, nothing more). INT8 moves probabilities by up to 0.0085 from FP32
here; INT8 kernels of other CPUs (AVX2, VNNI, NEON) may round differently, by less than the whole
quantization error, so INT8 files are held to 0.02. Clips that read words (the RAVDESS fixtures:
their statements) go through the INT8 text encoder, whose 8-bit MatMulNBits kernels changed
between onnxruntime versions: 1.16e-4 between 1.22/1.23 and 1.32 on the same CPU (measured), so
FP32 files are held to 1e-3 on those clips.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from bundled_predictions import EXPECTED, RECORD, VARIANTS, measure

from edgemood.labels import EMOTIONS
from edgemood.model import DEFAULT_MODEL_DIR, read_card
from edgemood.ravdess import parse_name

TOLERANCE = {"fp32": 1e-4, "int8": 0.02}
WORDS_TOLERANCE = {"fp32": 1e-3, "int8": 0.02}


@pytest.fixture(scope="module")
def live() -> dict[str, dict[str, list[float]]]:
    return measure()


@pytest.fixture(scope="module")
def record() -> dict:
    return json.loads(RECORD.read_text(encoding="utf-8"))


def test_record_is_for_the_bundled_model(record):
    card = read_card(DEFAULT_MODEL_DIR)
    assert record["model_default"] == card.default
    assert tuple(record["emotions"]) == EMOTIONS
    assert set(record["probabilities"]) == set(VARIANTS)
    assert set(card.files) == set(VARIANTS) - {"default"}


@pytest.mark.parametrize("variant", VARIANTS)
def test_labels_are_the_readmes(live, variant):
    labels = {name: EMOTIONS[int(np.argmax(p))] for name, p in live[variant].items()}
    assert labels == EXPECTED


@pytest.mark.parametrize("variant", VARIANTS)
def test_probabilities_match_the_record(live, record, variant):
    precision = "int8" if "int8" in variant else "fp32"
    if variant == "default":
        precision = "int8" if "int8" in record["model_default"] else "fp32"
    for name, stored in record["probabilities"][variant].items():
        words = parse_name(name) is not None  # a RAVDESS name: its statement is read
        bar = (WORDS_TOLERANCE if words else TOLERANCE)[precision]
        np.testing.assert_allclose(live[variant][name], stored, atol=bar,
                                   rtol=0, err_msg=f"{variant} {name}")  # fmt: skip
