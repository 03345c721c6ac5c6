"""Fine-tuning a sentence encoder for the text slot (``edgemood.train.text_finetune``) on a tiny
BERT built from a config (the architecture of all-MiniLM-L6-v2, 2 layers, 32 wide), then the
export of the fine-tuned body to the device's ONNX encoder. Needs the [train] extra."""

from __future__ import annotations

import numpy as np
import pytest

from edgemood.labels import EMOTIONS
from edgemood.text import TextEncoder

pytestmark = pytest.mark.train

WORDS = "i am so happy glad sad crying the weather today was is it".split()
HAPPY = ["i am so happy", "so glad today", "happy happy", "i am glad", "it is so glad"]
SAD = ["i am so sad", "crying today", "sad sad", "i was crying", "it is so sad"]


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from transformers import BertConfig

    from export.text_encoder import save_offline_bert

    directory = tmp_path_factory.mktemp("tiny_bert")
    config = BertConfig(
        vocab_size=len(WORDS) + 5,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    save_offline_bert(directory, WORDS, config)
    return directory


def test_class_weights_are_sqrt_inverse_frequency_and_zero_for_absent_classes():
    from edgemood.train.text_finetune import class_weights

    labels = np.array([0] * 100 + [2] * 25 + [3] * 4)
    weights = class_weights(labels)
    raw = np.array([1 / 10, 1 / 5, 1 / 2])  # 1/sqrt(100), 1/sqrt(25), 1/sqrt(4)
    assert np.allclose(weights[[0, 2, 3]], raw / raw.mean())
    assert np.all(weights[[1, 4, 5, 6, 7]] == 0)


def test_finetune_learns_and_freezes_and_the_export_pools_as_training_did(tiny_bert, tmp_path):
    from safetensors.numpy import load_file

    from edgemood.train.text_finetune import encode_torch, finetune, load_head, predict
    from export.text_encoder import export_text_encoder

    texts = HAPPY + SAD
    labels = [EMOTIONS.index("happy")] * 5 + [EMOTIONS.index("sad")] * 5
    out = tmp_path / "run"
    summary = finetune(
        tiny_bert, texts, labels, out, epochs=30, lr=3e-3, batch_size=4, freeze_layers=1,
        log=lambda line: None,
    )  # fmt: skip
    assert summary["rows_seen"] == 30 * 10 and summary["dim"] == 32
    weight, bias = load_head(out / "head.npz")
    assert weight.shape == (len(EMOTIONS), 32) and bias.shape == (len(EMOTIONS),)

    before = load_file(tiny_bert / "model.safetensors")
    after = load_file(out / "encoder" / "model.safetensors")
    changed = {k for k in after if not np.array_equal(before[k], after[k])}
    assert changed, "nothing was trained"
    assert all(k.startswith(("encoder.layer.1.", "pooler.")) for k in changed), sorted(changed)

    vectors = encode_torch(out / "encoder", texts)
    assert list(predict(vectors, (weight, bias))) == labels

    # The fine-tuned body exported for the device gives the vectors the head was trained on.
    exported = export_text_encoder(str(out / "encoder"), tmp_path / "onnx")
    device = TextEncoder(exported)
    assert device.dim == 32
    onnx_vectors = np.stack([device(t) for t in texts])
    assert np.allclose(onnx_vectors, vectors, atol=1e-4)
