"""INT8 calibration and parity of a model with a text branch: sentence vectors from a text pool
(paired with voices by the training's rules, and alone) are in the calibration set, and a pool
that cannot feed the text branch is refused in one line. The text parity conditions themselves
are checked on the end-to-end quantized model in test_export_quantize.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

from face_pools import write_face_pool
from text_pools import write_text_pool

from edgemood.model import FusionModel, ModelInputs
from edgemood.train.pairing import NEUTRAL, partner_label
from quantize.calibration import build_splits
from quantize.faces import load_face_sets
from quantize.texts import load_text_sets

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pools(full_model, tmp_path_factory) -> dict:
    model = FusionModel(full_model)
    root = tmp_path_factory.mktemp("pools")
    write_face_pool(root / "cal.npz", model.visual_features, seed=1)
    write_face_pool(root / "held.npz", model.visual_features, splits=("",), seed=2)
    return {
        "faces": [root / "cal.npz"],
        "held_out_faces": [root / "held.npz"],
        "texts": root / "texts.npz",
        "text_pool": write_text_pool(root / "texts.npz", model.text_dim, seed=3),
        "narrow": write_text_pool(root / "narrow.npz", 384, seed=4) and root / "narrow.npz",
    }


def test_calibration_feeds_hold_voices_with_sentences_and_sentences_alone(
    full_model, ravdess_dir, pools
):
    model = FusionModel(full_model)
    faces = load_face_sets(model, pools["faces"], pools["held_out_faces"])
    texts = load_text_sets(model, pools["texts"])
    splits = build_splits(full_model, ravdess_dir, None, [1, 2], faces=faces, texts=texts)
    pool = pools["text_pool"]
    train = pool.split == "train"
    kinds = {"voice": 0, "voice+text": 0, "text": 0, "neutral text with another voice": 0}
    for feed, label in zip(splits.calibration.feeds, splits.calibration.labels):
        voice, _, text = feed["present"][0] == 1.0
        if not text:
            assert not feed["text"].any()
            kinds["voice"] += voice
            continue
        match = np.flatnonzero((pool.features == feed["text"][0]).all(1))
        assert len(match) and train[match[0]], "a train-split sentence of the pool"
        said = int(pool.labels[match[0]])
        if voice:
            kinds["voice+text"] += 1
            assert said in (partner_label(label), NEUTRAL)  # training's rule
            kinds["neutral text with another voice"] += said != partner_label(label)
            audio = feed["audio"][0, : int(feed["audio_mask"][0].sum())]
            visual = feed["visual"][0, : int(feed["visual_mask"][0].sum())]
            device = model.feed(
                [
                    ModelInputs(
                        audio=audio,
                        visual=visual if len(visual) else None,
                        text=pool.features[match[0]],
                    )
                ]
            )
            for name, value in device.items():
                np.testing.assert_array_equal(feed[name], value, err_msg=name)
        else:
            kinds["text"] += 1
            assert said == label and not feed["audio_mask"].any()
    assert all(kinds.values()), kinds
    assert splits.calibration.describe()["with_text"] == kinds["voice+text"] + kinds["text"]
    assert splits.texts["calibration"]["sentences"] == int(train.sum())


def test_a_model_without_a_text_branch_ignores_a_text_pool(av_model, pools, capsys):
    assert load_text_sets(FusionModel(av_model), pools["texts"]) is None
    assert "no text branch" in capsys.readouterr().err


@pytest.fixture(scope="module")
def named_encoder_model(full_model, tmp_path_factory) -> Path:
    """The full model with a card that records its text encoder, as a trained model's does."""
    directory = tmp_path_factory.mktemp("named") / "model"
    shutil.copytree(full_model, directory)
    card = json.loads((directory / "model.json").read_text())
    card["training"]["text_encoder"] = {"name": "encoder A", "dim": card["text_dim"]}
    (directory / "model.json").write_text(json.dumps(card))
    return directory


@pytest.mark.parametrize(
    "texts, says",
    [
        (None, "give --texts"),
        ("narrow", "384 wide; the model's text branch takes 768-d"),
        (
            "texts",
            "encoded by 'test encoder', the model's text branch was trained with 'encoder A'",
        ),
    ],
)
def test_a_text_pool_that_cannot_feed_the_text_branch_is_refused_in_one_line(
    named_encoder_model, ravdess_dir, pools, texts, says
):
    faces = ["--faces", str(pools["faces"][0]), "--held-out-faces", str(pools["held_out_faces"][0])]
    given = ["--texts", str(pools[texts])] if texts else []
    command = ["-m", "edgemood", "quantize", "fusion", str(named_encoder_model),
               "--data", str(ravdess_dir)]  # fmt: skip
    done = subprocess.run(
        [sys.executable, *command, *faces, *given],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], lines
    assert not (named_encoder_model / "fusion.int8.onnx").exists()
