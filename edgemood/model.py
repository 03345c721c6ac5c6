"""The fusion model on the device: a model directory (model card + ONNX/TFLite files) run through a
Backend. Inputs are padded or thinned to the model's fixed maximum lengths, with masks.

Model directory layout::

    model.json      the model card (edgemood.card.ModelCard): feature lists, max lengths, which
                    modalities were trained, files, training data, protocol, metrics, licence
    fusion.onnx     FP32 ONNX (always present); other precisions/runtimes are listed in the card

Graph interface (same for every precision and runtime): inputs ``audio`` [B, TA, 74], ``audio_mask``
[B, TA], ``visual`` [B, TV, V], ``visual_mask`` [B, TV], ``text`` [B, D], ``present`` [B, 3]
(audio, visual, text); output ``probabilities`` [B, 8] in ``EMOTIONS`` order. V is the length of
the card's ``visual_features`` (35 geometry features on older cards; see edgemood.visual_features).
D is the card's ``text_dim``: the width of the encoder the text branch was trained with (768
DistilBERT, 384 MiniLM).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgemood.backends import BACKENDS, Backend, backend_name_for, load_backend
from edgemood.bundled import bundled

# The card's constants and reader live in edgemood.card; importers of edgemood.model keep them.
from edgemood.card import CARD_FORMAT as CARD_FORMAT
from edgemood.card import CARD_NAME as CARD_NAME
from edgemood.card import ModelCard, read_card
from edgemood.errors import ModelError
from edgemood.labels import MODALITIES

INPUT_NAMES = ("audio", "audio_mask", "visual", "visual_mask", "text", "present")
OUTPUT_NAME = "probabilities"
PRECISIONS = ("fp32", "int8")
DEFAULT_MODEL_DIR = bundled("model")


@dataclass
class ModelInputs:
    """Per-clip features before padding; None marks a missing modality."""

    audio: np.ndarray | None = None  # [frames, 74]
    visual: np.ndarray | None = None  # [frames, len(card visual_features)]
    text: np.ndarray | None = None  # [text_dim]: the text encoder's width


def _model_file(
    directory: Path, card: ModelCard, backend: str | None, precision: str | None
) -> Path:
    """Pick the model file: the card's default, with what was asked replacing its backend or
    precision. What was not asked keeps the default's value when the directory has that file
    (``--backend tflite`` on an INT8-ONNX default runs INT8 TFLite), else onnx / fp32."""
    files = card.files
    default = card.default
    if backend is None and precision is None:
        return directory / default
    default_backend = backend_name_for(Path(default))
    default_precision = _precision_of(Path(default))
    if backend is None:
        backend = default_backend if f"{default_backend}_{precision}" in files else "onnx"
    if precision is None:
        precision = default_precision if f"{backend}_{default_precision}" in files else "fp32"
    key = f"{backend}_{precision}"
    if key not in files:
        have = ", ".join(sorted(files)) or "none"
        raise ModelError(f"{directory}: no {key} model in this directory (have: {have})")
    return directory / files[key]


def _check_file_choice(file: Path, backend: str | None, precision: str | None) -> None:
    """A model file names its own runtime and precision: --backend/--precision that disagree
    would otherwise be ignored without a word."""
    have = {"backend": backend_name_for(file), "precision": _precision_of(file)}
    for option, asked in (("backend", backend), ("precision", precision)):
        if asked is not None and asked != have[option]:
            raise ModelError(
                f"{file}: is a {have[option]} model file, but --{option} {asked} was asked; "
                f"pass the model directory to choose by {option}, or drop --{option}"
            )


def _precision_of(file: Path) -> str:
    return "int8" if ".int8." in file.name else "fp32"


class FusionModel:
    """Loads a fusion model and predicts emotion probabilities from per-clip features."""

    def __init__(
        self,
        path: str | Path | None = None,
        backend: str | None = None,
        precision: str | None = None,
        threads: int = 1,
    ) -> None:
        """
        Args:
            path: a model directory, or a .onnx/.tflite file inside one; None: the bundled model.
            backend: 'onnx' or 'tflite' to choose among the files a directory lists.
            precision: 'fp32' or 'int8', likewise.
            threads: runtime threads.
        """
        path = Path(path) if path is not None else DEFAULT_MODEL_DIR
        if backend is not None and backend not in BACKENDS:
            raise ModelError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        if precision is not None and precision not in PRECISIONS:
            raise ModelError(f"unknown precision {precision!r} (choose from fp32, int8)")
        if not path.exists():
            raise ModelError(f"{path}: model not found (no such file or directory)")
        if path.is_dir():
            directory = path
            self.card: ModelCard = read_card(directory)
            file = _model_file(directory, self.card, backend, precision)
        else:
            directory = path.parent
            self.card = read_card(directory)
            file = path
            _check_file_choice(file, backend, precision)
        self.directory = directory
        self.file = file
        self.backend: Backend = load_backend(file, threads)
        missing = [n for n in INPUT_NAMES if n not in self.backend.input_names]
        if missing:
            raise ModelError(f"{file}: model lacks inputs {', '.join(missing)}")
        self.audio_frames = int(self.card.audio_max_frames)
        self.visual_frames = int(self.card.visual_max_frames)
        self.text_dim = int(self.card.text_dim)
        self.trained: dict[str, bool] = {m: bool(self.card.trained[m]) for m in MODALITIES}
        self._check_features()

    @property
    def backend_name(self) -> str:
        """'onnx' or 'tflite': the runtime of the file in use."""
        return backend_name_for(self.file)

    @property
    def precision(self) -> str:
        """'int8' or 'fp32', from the file name (``fusion.int8.onnx``, ``fusion.onnx``)."""
        return _precision_of(self.file)

    def _check_features(self) -> None:
        from edgemood.audio_features import AUDIO_FEATURES
        from edgemood.visual_features import ALL_VISUAL_FEATURES

        if tuple(self.card.audio_features) != AUDIO_FEATURES:
            raise ModelError(f"{self.directory}: model was trained on other audio features")
        names = tuple(self.card.visual_features)
        if not names or len(set(names)) != len(names) or set(names) - set(ALL_VISUAL_FEATURES):
            raise ModelError(f"{self.directory}: model was trained on other visual features")
        width = self.backend.input_shape("visual")[-1]
        if width is not None and width != len(names):
            raise ModelError(
                f"{self.file}: visual input has {width} features, its card names {len(names)}"
            )
        self.visual_features = names

    def usable(self, inputs: ModelInputs) -> dict[str, bool]:
        """Which modalities this model will actually use for these inputs."""
        given = {"audio": inputs.audio, "visual": inputs.visual, "text": inputs.text}
        return {
            m: self.trained[m] and given[m] is not None and len(given[m]) > 0 for m in MODALITIES
        }

    def feed(self, batch: list[ModelInputs]) -> dict[str, np.ndarray]:
        """Pad (or thin) a batch of clips into the model's fixed-size input arrays."""
        n = len(batch)
        feed = {
            "audio": np.zeros((n, self.audio_frames, 74), np.float32),
            "audio_mask": np.zeros((n, self.audio_frames), np.float32),
            "visual": np.zeros((n, self.visual_frames, len(self.visual_features)), np.float32),
            "visual_mask": np.zeros((n, self.visual_frames), np.float32),
            "text": np.zeros((n, self.text_dim), np.float32),
            "present": np.zeros((n, len(MODALITIES)), np.float32),
        }
        for row, inputs in enumerate(batch):
            used = self.usable(inputs)
            if used["audio"]:
                _place(inputs.audio, feed["audio"][row], feed["audio_mask"][row])
            if used["visual"]:
                _place(inputs.visual, feed["visual"][row], feed["visual_mask"][row])
            if used["text"]:
                feed["text"][row] = inputs.text
            feed["present"][row] = [float(used[m]) for m in MODALITIES]
        return feed

    def predict(self, batch: list[ModelInputs]) -> np.ndarray:
        """Probabilities [len(batch), 8]. A model with a fixed batch of 1 is run clip by clip."""
        feed = self.feed(batch)
        if self.backend.input_shape("audio")[0] == 1 and len(batch) > 1:
            rows = [
                self.backend.run({k: v[i : i + 1] for k, v in feed.items()})[OUTPUT_NAME]
                for i in range(len(batch))
            ]
            return np.concatenate(rows).astype(np.float32)
        return self.backend.run(feed)[OUTPUT_NAME].astype(np.float32)


def _place(frames: np.ndarray, out: np.ndarray, mask: np.ndarray) -> None:
    """Copy frames into a fixed-length slot; longer sequences are thinned uniformly, which keeps
    the mean and (nearly) the max that the model pools over the whole clip."""
    count = len(frames)
    if count > len(out):
        frames = frames[np.linspace(0, count - 1, len(out)).round().astype(int)]
        count = len(out)
    out[:count] = frames
    mask[:count] = 1.0
