"""Shared fixtures: real RAVDESS clips (committed), clips made from real face images, and fusion
models built with random weights through the real training-layer export path.

Tests that need the ``[train]`` extra (torch, transformers, librosa, onnx) carry the ``train``
marker: set by hand, by a module's ``pytestmark``, or here for every test that uses a fixture built
with torch. They are skipped only when torch is not installed (the device-runtime CI runs on
Python 3.10 and 3.13); with ``EDGEMOOD_REQUIRE_TRAIN=1`` (the full CI run) a missing training stack
is an error, never a skip.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

HAVE_TRAIN = importlib.util.find_spec("torch") is not None
TRAIN_REASON = "needs the [train] extra: torch is not installed (device-runtime run)"
# Fixtures made with torch or transformers: a test that uses one needs the training stack.
TRAIN_FIXTURES = frozenset(
    {
        "full_model",
        "av_model",
        "audio_model",
        "tiny_distilbert",
        "encoder_dir",
        "tiny_ravdess",
        "tiny_ravdess_video",
        "quantized",
        "requantized",
        "ravdess_dir",
    }
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "train: needs the [train] extra (torch, librosa, ...)")
    # Long service soak tests (kill -9 cycles, load): CI runs them on the newest wheels of
    # every Python and deselects them (-m "not soak") only in the oldest-versions run.
    config.addinivalue_line("markers", "soak: a long soak test of the service")
    if not HAVE_TRAIN and os.environ.get("EDGEMOOD_REQUIRE_TRAIN") == "1":
        raise pytest.UsageError("EDGEMOOD_REQUIRE_TRAIN=1 but torch is not installed")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if TRAIN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.train)
        if not HAVE_TRAIN and item.get_closest_marker("train"):
            item.add_marker(pytest.mark.skip(reason=TRAIN_REASON))


FIXTURES = Path(__file__).parent / "fixtures"
ANGRY = FIXTURES / "03-01-05-02-01-01-01.flac"
HAPPY = FIXTURES / "03-01-03-02-02-01-02.flac"
SAD = FIXTURES / "03-01-04-01-01-01-03.flac"


def build_model_dir(directory: Path, trained: dict[str, bool], seed: int = 0) -> Path:
    """A fusion model with random weights, written as the training layer writes real ones."""
    import torch

    from edgemood.train.fusion import FusionConfig, FusionNet
    from edgemood.train.model_dir import write_model_dir

    torch.manual_seed(seed)
    net = FusionNet(FusionConfig(trained=trained)).eval()
    return write_model_dir(net, directory, {"training": {"data": "random weights (test)"}})


@pytest.fixture(scope="session")
def full_model(tmp_path_factory) -> Path:
    """All three branches present (random weights)."""
    return build_model_dir(tmp_path_factory.mktemp("full_model"), _branches("audio visual text"))


@pytest.fixture(scope="session")
def av_model(tmp_path_factory) -> Path:
    """Audio and visual branches (random weights), no text."""
    return build_model_dir(tmp_path_factory.mktemp("av_model"), _branches("audio visual"))


@pytest.fixture(scope="session")
def audio_model(tmp_path_factory) -> Path:
    """Audio branch only, as the shipped model (random weights)."""
    return build_model_dir(tmp_path_factory.mktemp("audio_model"), _branches("audio"))


def _branches(names: str) -> dict[str, bool]:
    return {m: m in names.split() for m in ("audio", "visual", "text")}


@pytest.fixture(scope="session")
def ravdess_dir(tmp_path_factory) -> Path:
    """The three real fixture clips under RAVDESS names for actors 1-6 (each clip twice, as a
    different actor): enough to calibrate on actors 3-6 and test parity on actors 1-2."""
    root = tmp_path_factory.mktemp("ravdess")
    for clip in (ANGRY, HAPPY, SAD):
        parts = clip.stem.split("-")
        for actor in range(1, 7):
            if actor % 3 == (int(parts[-1]) % 3):  # spread the three clips over the actors
                continue
            name = "-".join([*parts[:-1], f"{actor:02d}"]) + clip.suffix
            folder = root / f"Actor_{actor:02d}"
            folder.mkdir(exist_ok=True)
            shutil.copy(clip, folder / name)
    return root


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory) -> Path:
    """An mp4: the astronaut photo (a real face) with a RAVDESS happy voice track."""
    from media import face_image, read_audio, write_clip

    path = tmp_path_factory.mktemp("clips") / "astronaut_happy.mp4"
    return write_clip(path, face_image("astronaut"), read_audio(HAPPY))


@pytest.fixture(scope="session")
def silent_video(tmp_path_factory) -> Path:
    """An mp4 with a face and no audio stream."""
    from media import face_image, write_clip

    path = tmp_path_factory.mktemp("clips") / "grace_hopper_mute.mp4"
    return write_clip(path, face_image("grace_hopper"), None, seconds=2.0)


WORDS = "kids are talking by the door dogs sitting i can t believe it happy sad so".split()


@pytest.fixture(scope="session")
def tiny_distilbert(tmp_path_factory):
    """A DistilBERT (dim 64, 2 layers) and an offline WordPiece tokenizer, saved as on the hub."""
    from transformers import DistilBertConfig

    from export.text_encoder import save_offline_distilbert

    directory = tmp_path_factory.mktemp("tiny_distilbert")
    config = DistilBertConfig(vocab_size=1000, dim=64, n_layers=2, n_heads=2, hidden_dim=128)
    model = save_offline_distilbert(directory, WORDS, config)
    return directory, model


@pytest.fixture(scope="session")
def encoder_dir(tiny_distilbert, tmp_path_factory):
    from export.text_encoder import export_text_encoder

    source, _ = tiny_distilbert
    return export_text_encoder(str(source), tmp_path_factory.mktemp("encoder"))
