"""`edgemood add-branches`: a voice model learns faces and words from pools; its voice-only answers
stay the voice model's, the card names the face features and the text encoder, and pools that
do not fit fail in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import HAPPY, TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

from typer.testing import CliRunner

from edgemood.audio_features import audio_features
from edgemood.cli import app
from edgemood.decode import decode_audio
from edgemood.labels import EMOTIONS
from edgemood.model import FusionModel, ModelInputs
from edgemood.text import encoder_record
from edgemood.train.pools import Pool, save_pool
from edgemood.visual_features import ALL_VISUAL_FEATURES, CNN_FEATURES

runner = CliRunner()
LABELS = [i for i, e in enumerate(EMOTIONS) if e != "calm"]


def _pool(path, dim: int, meta: dict, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(LABELS, 6)
    features = rng.normal(size=(len(labels), dim)).astype(np.float32)
    n = len(labels)
    save_pool(path, Pool(features, labels, np.arange(n).astype(str), np.full(n, "train"), meta))
    return path


@pytest.fixture(scope="module")
def face_pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("pools") / "faces.npz"
    meta = {"source": "synthetic", "feature_names": list(ALL_VISUAL_FEATURES)}
    return _pool(path, len(ALL_VISUAL_FEATURES), meta)


def _run(*args: str):
    return runner.invoke(app, ["add-branches", *args, "--epochs", "2"])


def test_faces_added_voice_answers_kept(audio_model, ravdess_dir, face_pool, face_clip, tmp_path):
    out = tmp_path / "model"
    result = _run(
        "--data",
        str(ravdess_dir),
        "--model",
        str(audio_model),
        "--faces",
        str(face_pool),
        "--face-split",
        "all",
        "--visual-features",
        "expression",
        "--out",
        str(out),
        "--cache",
        str(tmp_path / "cache"),
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model.json").read_text())
    assert card["visual_features"] == list(CNN_FEATURES)
    assert card["trained"] == {"audio": True, "visual": True, "text": False}
    assert card["training"]["branches"]["faces"]["images"] == len(LABELS) * 6
    voice = ModelInputs(audio=audio_features(decode_audio(HAPPY)))
    before = FusionModel(audio_model).predict([voice])
    after = FusionModel(out).predict([voice])
    np.testing.assert_allclose(after, before, atol=1e-5)
    # A face changes the answer, and the device computes the 7 features the card names.
    from edgemood.pipeline import Recognizer

    prediction = Recognizer(out).predict(face_clip)
    assert prediction.modalities["visual"]
    with_face = prediction.probabilities
    assert np.abs(with_face - Recognizer(audio_model).predict(face_clip).probabilities).max() > 1e-3


def test_texts_need_their_encoder_and_fit_it(audio_model, ravdess_dir, encoder_dir, tmp_path):
    record = encoder_record(encoder_dir)
    good = _pool(tmp_path / "texts.npz", record["dim"], {"encoder": record["name"]})
    out = tmp_path / "model"
    common = [
        "--data",
        str(ravdess_dir),
        "--model",
        str(audio_model),
        "--cache",
        str(tmp_path / "cache"),
    ]
    result = _run(*common, "--texts", str(good), "--out", str(out))
    assert result.exit_code == 2 and "--text-encoder" in result.output
    result = _run(
        *common, "--texts", str(good), "--text-encoder", str(encoder_dir), "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    card = json.loads((out / "model.json").read_text())
    assert card["trained"]["text"] and card["text_dim"] == record["dim"]
    assert card["training"]["text_encoder"]["name"] == record["name"]
    wrong = _pool(tmp_path / "wide.npz", record["dim"] + 8, {"encoder": record["name"]})
    result = _run(
        *common,
        "--texts",
        str(wrong),
        "--text-encoder",
        str(encoder_dir),
        "--out",
        str(tmp_path / "other"),
    )
    assert result.exit_code != 0
    assert "not by the text encoder given" in str(result.exception or result.output)


def test_nothing_to_add_fails_in_one_line(audio_model, ravdess_dir, tmp_path):
    result = _run(
        "--data", str(ravdess_dir), "--model", str(audio_model), "--out", str(tmp_path / "m")
    )
    assert result.exit_code == 2
    assert "nothing to add" in result.output


def test_rebuilt_branches_credit_their_data_once(
    audio_model, ravdess_dir, face_pool, encoder_dir, tmp_path
):
    """Adding branches to a model that has them replaces their credits (the bundled model's card
    once named every earlier build's data and encoder again), and the text encoder's own credit
    lines (the corpora it was fine-tuned on) reach the model card."""
    import shutil

    from edgemood.text import MANIFEST

    common = ["--data", str(ravdess_dir), "--cache", str(tmp_path / "cache")]
    common += ["--faces", str(face_pool), "--face-split", "all"]
    credits = []
    for build, source in enumerate((audio_model, tmp_path / "build0")):
        encoder = tmp_path / f"encoder{build}"  # another encoder (name) each build
        shutil.copytree(encoder_dir, encoder)
        manifest = json.loads((encoder / MANIFEST).read_text())
        manifest["name"] = f"tiny encoder {build}"
        manifest["credit"] = [f"corpus {build}: CC BY 4.0"]
        (encoder / MANIFEST).write_text(json.dumps(manifest))
        record = encoder_record(encoder)
        texts = _pool(tmp_path / f"texts{build}.npz", record["dim"], {"encoder": record["name"]})
        out = tmp_path / f"build{build}"
        result = _run(*common, "--texts", str(texts), "--text-encoder", str(encoder),
                      "--model", str(source), "--out", str(out))  # fmt: skip
        assert result.exit_code == 0, result.output
        credits.append(json.loads((out / "model.json").read_text())["credits"])
    for build, lines in enumerate(credits):
        assert len(lines) == len(set(lines))
        text = [c for c in lines if c.startswith(("Text branch: ", "Text encoder: "))]
        assert len(text) == 2 and all(f"{build}" in c for c in text), text
        assert f"Text encoder: corpus {build}: CC BY 4.0" in text
        assert sum(c.startswith("Face features include") for c in lines) == 1
