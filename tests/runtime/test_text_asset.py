"""The shipped text encoder (edgemood/assets/text, issue 15): all-MiniLM-L6-v2 fine-tuned on
GoEmotions + XED, INT8 ONNX. Its manifest is complete, its files load with the device's own
libraries (tokenizers, onnxruntime), and it turns one sentence into a 384-d vector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

import edgemood
from edgemood.model import DEFAULT_MODEL_DIR, read_card
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


def test_the_bundled_card_credits_the_bundled_encoder_once():
    """The bundled model's card names each credit once and carries the shipped encoder's own
    credit lines (its data sets' citations), so a model rebuilt with a new encoder cannot ship
    with the old encoder's credits."""
    manifest = json.loads((ASSET / MANIFEST).read_text(encoding="utf-8"))
    card = read_card(DEFAULT_MODEL_DIR)
    credits = card.credits
    assert len(credits) == len(set(credits))
    assert card.text_encoder.name == manifest["name"]
    for line in manifest["credit"]:
        assert f"Text encoder: {line}" in credits
    assert sum("FER2013" in line for line in credits) == 1


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


# Sentences written for this test (not corpus rows), two per emotion text can carry, as a person
# would label them: the reference the bundled model's text branch is held to.
SAID = {
    "neutral": ["The meeting is at three o'clock in room two.", "I put the keys on the table."],
    "happy": ["I'm so happy, this is the best day of my life!", "Thank you so much, I love it!"],
    "sad": ["I miss her so much, I can't stop crying.", "I'm really sad that he's gone."],
    "angry": [
        "I'm furious, how dare you lie to me!",
        "Stop it right now, I hate it when you do that!",
    ],
    "fearful": ["I'm terrified, someone is following me.", "I'm so scared of what will happen."],
    "disgust": [
        "That is disgusting, I think I'm going to throw up.",
        "Gross, it's rotten and smells.",
    ],
    "surprised": ["Wow, I did not expect that at all!", "What? Really? No way!"],
}


def test_the_bundled_model_reads_plain_emotional_sentences(tmp_path):
    """A text file alone, through the device path (bundled encoder + the bundled model's text
    branch): plainly emotional sentences get their emotion. The text-2 and text-3 models get 14
    of 14 (measured 2026-12-03); a broken tokenizer, pooling or branch falls far below 12."""
    from edgemood.pipeline import Recognizer

    recognizer = Recognizer()
    wrong = []
    for emotion, sentences in SAID.items():
        for i, sentence in enumerate(sentences):
            said = tmp_path / f"{emotion}{i}.txt"
            said.write_text(sentence, encoding="utf-8")
            prediction = recognizer.predict(said)
            assert prediction.modalities == {"audio": False, "visual": False, "text": True}
            if prediction.emotion != emotion:
                wrong.append((sentence, emotion, prediction.emotion))
    assert sum(map(len, SAID.values())) - len(wrong) >= 12, wrong
