"""The text path: a tiny DistilBERT built from a config, exported with Optimum, run on the device
with onnxruntime + tokenizers, equal to the PyTorch model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edgemood.errors import ModelError
from edgemood.text import TextEncoder, find_text_encoder, resolve_transcript


def _reference(model, tokenizer_dir, text: str) -> np.ndarray:
    import torch
    from transformers import AutoTokenizer

    batch = AutoTokenizer.from_pretrained(tokenizer_dir)(text, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state[0]
    mask = batch["attention_mask"][0].float()[:, None]
    return ((hidden * mask).sum(0) / mask.sum()).numpy()


def test_onnx_encoder_matches_pytorch(tiny_distilbert, encoder_dir):
    source, model = tiny_distilbert
    encoder = TextEncoder(encoder_dir)
    assert encoder.dim == 64
    vectors = []
    for text in ("Kids are talking by the door", "I can't believe it", "so so happy"):
        vector = encoder(text)
        assert vector.shape == (64,) and vector.dtype == np.float32
        assert np.isfinite(vector).all()
        np.testing.assert_allclose(vector, _reference(model, source, text), atol=1e-4)
        vectors.append(vector)
    assert not np.allclose(vectors[0], vectors[1], atol=1e-3)


def test_bad_encoder_directories(tmp_path, encoder_dir):
    with pytest.raises(ModelError, match="not a text encoder"):
        TextEncoder(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "text_encoder.json").write_text((encoder_dir / "text_encoder.json").read_text())
    with pytest.raises(ModelError, match="tokenizer"):
        TextEncoder(broken)


def test_transcript_priority(tmp_path):
    clip = tmp_path / "03-01-05-02-01-01-12.wav"
    clip.write_bytes(b"")
    assert resolve_transcript(clip) == "Kids are talking by the door"
    clip.with_suffix(".txt").write_text("  Words from the sidecar \n")
    assert resolve_transcript(clip) == "Words from the sidecar"
    assert resolve_transcript(clip, "Given words") == "Given words"
    assert resolve_transcript(tmp_path / "interview.mp4") is None


def test_find_text_encoder_honours_env(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGEMOOD_TEXT_ENCODER", raising=False)
    assert find_text_encoder() is None
    monkeypatch.setenv("EDGEMOOD_TEXT_ENCODER", str(tmp_path))
    assert find_text_encoder() == tmp_path
    assert find_text_encoder(tmp_path / "x") == tmp_path / "x"


def test_extractor_fills_text_only_with_an_encoder(encoder_dir):
    """The transcript comes from the RAVDESS name; no encoder, no text vector (never invented)."""
    from conftest import ANGRY

    from edgemood.features import FeatureExtractor

    extractor = FeatureExtractor(
        use={"audio": True, "visual": False, "text": True}, text_encoder=TextEncoder(encoder_dir)
    )
    features = extractor(ANGRY)
    inputs = features.inputs
    assert inputs.text is not None and inputs.text.shape == (64,)
    assert "text" in features.timings
    features = FeatureExtractor(use={"audio": True, "visual": False, "text": True})(ANGRY)
    inputs = features.inputs
    assert inputs.text is None
    note = "no text encoder installed: text not used (words from the RAVDESS file name)"
    assert note in features.notes


def test_text_runtime_imports_no_torch():
    code = "import sys, edgemood.text; print('torch' in sys.modules, 'transformers' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False False", result.stderr
