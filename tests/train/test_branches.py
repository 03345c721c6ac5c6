"""Face and text branches added to a trained voice model: voice-only answers stay exactly the
voice model's, and each new branch learns to answer alone and to add to the voice."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

import torch
from test_pairing import FACE_DIM, TEXT_DIM, _pool, _voices, alone_accuracies

from edgemood.labels import MODALITIES
from edgemood.train.branches import BranchConfig, add_branches
from edgemood.train.fit import TrainConfig, batch_arrays, predict_arrays, train_model
from edgemood.train.fusion import FusionConfig
from edgemood.train.pairing import Partners

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def voice_model():
    voices = _voices(96)
    config = TrainConfig(epochs=3, speed_perturbation=())
    net, _ = train_model(
        voices,
        None,
        FusionConfig(hidden=32),
        config,
        log=lambda _: None,
        stream=open("/dev/null", "w"),
    )
    return net, voices


def test_voice_answers_unchanged_and_branches_learn(voice_model):
    voice_net, voices = voice_model
    faces, texts = _pool(FACE_DIM, 40, 1), _pool(TEXT_DIM, 40, 2)
    net, history = add_branches(
        voice_net,
        voices,
        Partners(faces, texts),
        BranchConfig(epochs=25, audio_draws=2),
        stream=open("/dev/null", "w"),
    )
    assert net.config.trained == {"audio": True, "visual": True, "text": True}
    assert history["history"][-1]["train_loss"] < history["history"][0]["train_loss"]
    test = _voices(40, seed=5)
    alone = batch_arrays(test, {m: m == "audio" for m in MODALITIES}, net.config)
    before = predict_arrays(
        voice_net, batch_arrays(test, voice_net.config.trained, voice_net.config), CPU
    )
    np.testing.assert_allclose(predict_arrays(net, alone, CPU), before, atol=1e-6)
    face_accuracy, text_accuracy = alone_accuracies(net)
    assert face_accuracy > 0.8 and text_accuracy > 0.8


def test_training_the_head_changes_voice_answers(voice_model):
    """The frozen head is what keeps voice answers: with train_head they move (the test above
    would not notice a head that silently trains)."""
    voice_net, voices = voice_model
    faces = _pool(FACE_DIM, 20, 1)
    net, _ = add_branches(
        voice_net,
        voices,
        Partners(faces, None),
        BranchConfig(epochs=2, audio_draws=1, train_head=True),
        stream=open("/dev/null", "w"),
    )
    test = _voices(16, seed=5)
    alone = batch_arrays(test, {m: m == "audio" for m in MODALITIES}, net.config)
    before = predict_arrays(
        voice_net, batch_arrays(test, voice_net.config.trained, voice_net.config), CPU
    )
    assert np.abs(predict_arrays(net, alone, CPU) - before).max() > 1e-4
