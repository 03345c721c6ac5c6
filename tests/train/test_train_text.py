"""The text path of ``edgemood train`` (issue 19): ``--text-encoder`` given a Hugging Face
DistilBERT directory exports it once into the cache, fills each clip's text from the RAVDESS
statement of its name, trains a text branch, and the model it writes reads text at inference.

The DistilBERT is tiny (1 layer) but 768-wide, the width of the real one that the fusion graph's
text input has. Needs the [train] extra."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import ANGRY, HAPPY, SAD, WORDS
from typer.testing import CliRunner

from edgemood.cli import app
from edgemood.pipeline import Recognizer
from edgemood.text import MANIFEST


@pytest.mark.train
def test_train_with_a_text_encoder(tmp_path):
    from transformers import DistilBertConfig

    from export.text_encoder import save_offline_distilbert

    source = tmp_path / "distilbert"
    config = DistilBertConfig(vocab_size=1000, dim=768, n_layers=1, n_heads=2, hidden_dim=64)
    save_offline_distilbert(source, WORDS, config)
    data = tmp_path / "ravdess"
    for actor in range(1, 5):
        folder = data / f"Actor_{actor:02d}"
        folder.mkdir(parents=True)
        for emotion, clip in (("05", ANGRY), ("03", HAPPY), ("04", SAD)):
            shutil.copy(clip, folder / f"03-01-{emotion}-01-01-01-{actor:02d}.flac")
    out, cache = tmp_path / "model", tmp_path / "cache" / "features"
    result = CliRunner().invoke(app, [
        "train", "--data", str(data), "--out", str(out), "--cache", str(cache),
        "--text-encoder", str(source), "--epochs", "2", "--no-validation", "--speed", "",
        "--device", "cpu",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    exported = cache.parent / "text_encoders" / str(source).replace("/", "--")
    assert (exported / MANIFEST).is_file()  # exported once, into the cache
    card = json.loads((out / "model.json").read_text())
    assert card["trained"] == {"audio": True, "visual": False, "text": True}
    # The encoder's identity (the source it was exported from, not the cache path) and width.
    assert card["training"]["text_encoder"] == {"name": str(source), "dim": 768,
                                                "source": str(source)}  # fmt: skip
    assert card["text_dim"] == 768

    recognizer = Recognizer(out, text_encoder=exported)
    prediction = recognizer.predict(HAPPY, transcript="dogs are sitting by the door")
    assert prediction.modalities == {"audio": True, "visual": False, "text": True}
    # The text reaches the model: another sentence gives other probabilities.
    other = recognizer.predict(HAPPY, transcript="kids are talking by the door")
    assert not np.allclose(prediction.probabilities, other.probabilities)
