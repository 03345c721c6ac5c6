"""Fusion from unpaired data: voices get faces and sentences of their own label, calm gets
neutral partners, neutral sentences go with any voice, and the trainer learns every branch."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import TRAIN_REASON

pytest.importorskip("torch", reason=TRAIN_REASON)
pytestmark = pytest.mark.train

import torch

from edgemood.labels import EMOTIONS
from edgemood.model import ModelInputs
from edgemood.train.fit import TrainConfig, batch_arrays, predict_arrays, train_model
from edgemood.train.fusion import FusionConfig
from edgemood.train.pairing import CALM, NEUTRAL, PairingConfig, Partners
from edgemood.train.pools import Pool

FACE_DIM, TEXT_DIM = 42, 24
NO_CALM = [i for i in range(len(EMOTIONS)) if i != CALM]


def _pool(dim: int, per_label: int, seed: int) -> Pool:
    """Samples whose feature 0 holds their label, so a partner's label can be read back, and
    which a model can learn (a marker feature per label)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(NO_CALM, per_label)
    features = rng.normal(size=(len(labels), dim)).astype(np.float32)
    features[:, 0] = labels
    features[np.arange(len(labels)), 1 + labels] += 4.0
    n = len(labels)
    return Pool(features, labels, np.arange(n).astype(str), np.full(n, "train"))


class _Clip:
    """What the trainer reads of a clip: its inputs, its label and its corpus."""

    corpus = "ravdess"

    def __init__(self, label: int, rng: np.random.Generator) -> None:
        self.label = label
        frames = rng.normal(size=(40, 74)).astype(np.float32)
        frames[:, 0] += label  # a voice that tells its label, so training has something to learn
        self.inputs = ModelInputs(audio=frames)


def _voices(count: int, seed: int = 0) -> list[_Clip]:
    rng = np.random.default_rng(seed)
    return [_Clip(i % len(EMOTIONS), rng) for i in range(count)]


def _voice_arrays(clips, config: FusionConfig):
    trained = {"audio": True, "visual": True, "text": True}
    return batch_arrays(clips, trained, config), np.array([c.label for c in clips])


def test_partners_follow_the_voice_label_and_calm_gets_neutral():
    faces, texts = _pool(FACE_DIM, 30, 1), _pool(TEXT_DIM, 30, 2)
    config = PairingConfig(
        face_rate=1.0, text_rate=1.0, neutral_text=0.0, balanced_neutral_text=False
    )
    partners = Partners(faces, texts, config)
    arrays, labels = _voice_arrays(
        _voices(400), FusionConfig(visual_dim=FACE_DIM, text_dim=TEXT_DIM)
    )
    voices, voice_labels = partners.epoch(arrays, labels, np.random.default_rng(0))[0]
    expected = np.where(voice_labels == CALM, NEUTRAL, voice_labels)
    np.testing.assert_array_equal(voices["visual"][:, 0, 0], expected)
    np.testing.assert_array_equal(voices["text"][:, 0], expected)
    assert voices["visual_mask"][:, 0].all() and not voices["visual_mask"][:, 1:].any()
    np.testing.assert_array_equal(voices["present"], np.ones((400, 3)))
    # The voices themselves are untouched.
    np.testing.assert_array_equal(voices["audio"], arrays["audio"])


def _sentences(balanced: bool):
    texts = _pool(TEXT_DIM, 50, 2)
    config = PairingConfig(
        text_rate=1.0, neutral_text=0.5, text_alone=0, balanced_neutral_text=balanced
    )
    arrays, labels = _voice_arrays(_voices(8000), FusionConfig(text_dim=TEXT_DIM))
    parts = Partners(None, texts, config).epoch(arrays, labels, np.random.default_rng(0))
    assert len(parts) == 1  # no single-modality part when its share is 0
    voices = parts[0][0]
    return labels, voices["present"][:, 2] > 0, voices["text"][:, 0]


def test_neutral_sentences_are_equally_common_beside_every_voice():
    labels, has, sentence = _sentences(balanced=True)
    for label in range(len(EMOTIONS)):
        rows = labels == label
        neutral_share = np.mean(has[rows] & (sentence[rows] == NEUTRAL))
        assert neutral_share == pytest.approx(0.5, abs=0.04), EMOTIONS[label]
        emotional = has[rows] & (sentence[rows] != NEUTRAL)
        if label in (NEUTRAL, CALM):  # no emotional sentence fits them: no sentence instead
            assert not emotional.any() and has[rows].mean() == pytest.approx(0.5, abs=0.04)
        else:  # the other half: a sentence of the voice's own label
            np.testing.assert_array_equal(sentence[rows][emotional], label)
            assert has[rows].all()


def test_unbalanced_pairing_gives_calm_and_neutral_voices_neutral_words_always():
    labels, has, sentence = _sentences(balanced=False)
    quiet = (labels == NEUTRAL) | (labels == CALM)
    assert has[quiet].all() and (sentence[quiet] == NEUTRAL).all()
    assert np.mean(sentence[~quiet] == NEUTRAL) == pytest.approx(0.5, abs=0.03)


def test_rates_and_single_modality_parts():
    faces, texts = _pool(FACE_DIM, 30, 1), _pool(TEXT_DIM, 30, 2)
    config = PairingConfig(face_rate=0.3, text_rate=0.0, face_alone=0.25, text_alone=0.5)
    arrays, labels = _voice_arrays(
        _voices(2000), FusionConfig(visual_dim=FACE_DIM, text_dim=TEXT_DIM)
    )
    parts = Partners(faces, texts, config).epoch(arrays, labels, np.random.default_rng(0))
    (voices, _), (face_part, face_labels), (text_part, text_labels) = parts
    assert voices["present"][:, 1].mean() == pytest.approx(0.3, abs=0.04)
    assert not voices["present"][:, 2].any()
    assert len(face_labels) == 500 and len(text_labels) == 1000
    np.testing.assert_array_equal(face_part["present"], np.tile([0, 1, 0], (500, 1)))
    np.testing.assert_array_equal(text_part["present"], np.tile([0, 0, 1], (1000, 1)))
    np.testing.assert_array_equal(face_part["visual"][:, 0, 0], face_labels)
    np.testing.assert_array_equal(text_part["text"][:, 0], text_labels)


def test_presence_mask_only_leaves_voices_alone():
    faces = _pool(FACE_DIM, 30, 1)
    arrays, labels = _voice_arrays(_voices(100), FusionConfig(visual_dim=FACE_DIM))
    parts = Partners(faces, None, PairingConfig(pairs=False)).epoch(
        arrays, labels, np.random.default_rng(0)
    )
    assert not parts[0][0]["present"][:, 1].any()
    assert len(parts) == 2


def test_training_with_partners_learns_each_branch_alone():
    """Faces and sentences whose first feature is their label: after training, each branch
    alone names them, with the widths of the pools."""
    faces, texts = _pool(FACE_DIM, 40, 1), _pool(TEXT_DIM, 40, 2)
    config = TrainConfig(epochs=30, speed_perturbation=(), mixup=0.0, noise=0.0, feature_mask=0.0)
    net, _ = train_model(
        _voices(160),
        None,
        FusionConfig(hidden=32),
        config,
        log=lambda _: None,
        partners=Partners(faces, texts),
        stream=open("/dev/null", "w"),
    )
    assert net.config.trained == {"audio": True, "visual": True, "text": True}
    assert (net.config.visual_dim, net.config.text_dim) == (FACE_DIM, TEXT_DIM)
    face_accuracy, text_accuracy = alone_accuracies(net)
    assert face_accuracy > 0.8 and text_accuracy > 0.8


def alone_accuracies(net) -> tuple[float, float]:
    """How often ``net`` names unseen pool faces alone, and unseen pool sentences alone."""
    test_faces, test_texts = _pool(FACE_DIM, 5, 7), _pool(TEXT_DIM, 5, 8)
    face_only = _empty(len(test_faces), FACE_DIM, TEXT_DIM)
    face_only["visual"][:, 0] = test_faces.features
    face_only["visual_mask"][:, 0] = 1
    face_only["present"][:, 1] = 1
    text_only = _empty(len(test_texts), FACE_DIM, TEXT_DIM)
    text_only["text"][:] = test_texts.features
    text_only["present"][:, 2] = 1
    device = torch.device("cpu")
    faces = (predict_arrays(net, face_only, device).argmax(1) == test_faces.labels).mean()
    texts = (predict_arrays(net, text_only, device).argmax(1) == test_texts.labels).mean()
    return float(faces), float(texts)


def _empty(n: int, visual_dim: int, text_dim: int) -> dict[str, np.ndarray]:
    return {
        "audio": np.zeros((n, 4, 74), np.float32),
        "audio_mask": np.zeros((n, 4), np.float32),
        "visual": np.zeros((n, 4, visual_dim), np.float32),
        "visual_mask": np.zeros((n, 4), np.float32),
        "text": np.zeros((n, text_dim), np.float32),
        "present": np.zeros((n, 3), np.float32),
    }
