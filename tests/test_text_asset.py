"""The shipped text encoder (edgemood/assets/text, issue 15): all-MiniLM-L6-v2 fine-tuned on
GoEmotions, INT8 ONNX. Its manifest is complete, its files load with the device's own libraries
(tokenizers, onnxruntime), and it turns one sentence into a 384-d vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

import edgemood
from edgemood.text import MANIFEST, TextEncoder

ASSET = Path(edgemood.__file__).parent / "assets" / "text"


def test_manifest_names_existing_files_and_credits_the_sources():
    manifest = json.loads((ASSET / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["dim"] == 384 and manifest["max_tokens"] == 64
    assert manifest["name"].startswith("all-MiniLM-L6-v2")
    assert (ASSET / manifest["model"]).is_file() and (ASSET / manifest["tokenizer"]).is_file()
    assert "Apache-2.0" in manifest["licence"] and (ASSET / "LICENSE.all-MiniLM-L6-v2").is_file()
    assert any("GoEmotions" in line for line in manifest["credit"])
    assert not (ASSET / "model.onnx").exists()  # the FP32 export is not shipped
    # INT8 weights, not an FP32 file under an INT8 name (onnx itself is not a runtime package;
    # op type names are plain strings in the protobuf): 8-bit block-wise MatMuls
    # (quantize/text_encoder.py), and under a quarter of the FP32 export's 90 MB.
    model = (ASSET / manifest["model"]).read_bytes()
    assert b"MatMulNBits" in model and len(model) < 90_362_391 / 3.5


def test_tokenizer_is_minilm_s_uncased_wordpiece():
    tokenizer = Tokenizer.from_file(str(ASSET / "tokenizer.json"))
    # bert-base-uncased's vocabulary (all-MiniLM-L6-v2 uses it): [CLS]=101, [SEP]=102,
    # "kids"=4268, "door"=2341.
    ids = tokenizer.encode("Kids are talking by the DOOR").ids
    assert ids[0] == 101 and ids[-1] == 102
    assert 4268 in ids and 2341 in ids


def test_encodes_a_sentence_to_a_384_d_vector():
    encoder = TextEncoder(ASSET)
    vector = encoder("I can't believe you did this to me.")
    assert vector.shape == (384,) and vector.dtype == np.float32
    assert np.all(np.isfinite(vector)) and np.linalg.norm(vector) > 0
    other = encoder("What a lovely sunny morning.")
    assert not np.allclose(vector, other, atol=1e-3)
