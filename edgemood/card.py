"""The model card: ``model.json`` in a model directory, read once into a typed ``ModelCard``.

Training writes the card (``edgemood.train.model_dir.write_model_dir``), the workstation tools
update its ``files``/``default`` entries (``export``, ``quantize``), and the device reads it
(``edgemood.model.FusionModel``). Everyone goes through ``read_card`` / ``write_card``.

Keys the code does not name stay in ``extra``, and ``to_dict`` gives the keys back in the order
they were read (keys set later follow, in field order): a read/write round trip changes nothing.
A field not in the file keeps its default and is not written while it does.

No torch or numpy here: the device runtime imports this module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from edgemood.errors import ModelError
from edgemood.labels import EMOTIONS

CARD_NAME = "model.json"
CARD_FORMAT = "edgemood-fusion/1"

_R = TypeVar("_R", bound="_Record")


@dataclass(kw_only=True)
class _Record:
    """A JSON object with typed fields; unknown keys in ``extra``, key order kept (``_order``)."""

    # Fields holding a nested record: field name -> its record class.
    _NESTED: ClassVar[dict[str, type[_Record]]] = {}

    extra: dict[str, Any] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def _fields(cls) -> list[dataclasses.Field]:
        return [f for f in dataclasses.fields(cls) if f.name not in ("extra", "_order")]

    @classmethod
    def _read(cls: type[_R], data: dict[str, Any]) -> _R:
        known = {f.name for f in cls._fields()}
        values: dict[str, Any] = {}
        for f in cls._fields():
            if f.name not in data:
                continue
            value, nested = data[f.name], cls._NESTED.get(f.name)
            if nested is not None:  # a nested record that is not an object reads as empty
                value = nested._read(value if isinstance(value, dict) else {})
            values[f.name] = value
        extra = {k: v for k, v in data.items() if k not in known}
        return cls(**values, extra=extra, _order=list(data))

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the keys read, in their order, then fields set since (field order),
        then unknown keys added since."""
        values: dict[str, Any] = {}
        for f in self._fields():
            value = getattr(self, f.name)
            if f.name in self._order or not _is_default(f, value):
                values[f.name] = value.to_dict() if isinstance(value, _Record) else value
        out: dict[str, Any] = {}
        for key in self._order:
            if key in values:
                out[key] = values.pop(key)
            elif key in self.extra:
                out[key] = self.extra[key]
        out.update(values)
        out.update({k: v for k, v in self.extra.items() if k not in out})
        return out


def _is_default(f: dataclasses.Field, value: Any) -> bool:
    if f.default is not dataclasses.MISSING:
        return value == f.default
    if f.default_factory is not dataclasses.MISSING:
        return value == f.default_factory()
    return False  # a required field is always written


@dataclass(frozen=True)
class TextEncoderRecord:
    """The encoder a model's text branch was trained with (``training.text_encoder``; made by
    ``edgemood.text.encoder_record``): its name (the manifest's ``name``, else ``source``), its
    width and where it was exported from."""

    name: str
    dim: int | None = None
    source: str | None = None


@dataclass(kw_only=True)
class Training(_Record):
    """The card's ``training`` record: what the weights learned from, and how."""

    data: str | None = None
    data_dir: str | list[str] | None = None  # one folder (older cards) or one per corpus
    clips: int | None = None
    perturbed_copies: int | None = None
    actors: list[int] | None = None  # RAVDESS actors trained on
    validation_actors: list[int] | None = None
    # Per corpus: clips, speakers, emotions, validation speakers (edgemood.train.commands).
    corpora: dict[str, Any] | None = None
    init_from: str | None = None  # the model directory training started from (fine-tuning)
    protocol: str | None = None
    best_epoch: int | None = None
    validation: dict[str, Any] | None = None
    config: dict[str, Any] | None = None  # edgemood.train.fit.TrainConfig.to_dict()
    device: str | None = None
    # The text encoder's record (a dict, see TextEncoderRecord); older cards hold a plain string
    # or nothing; None (JSON null) for a model trained without one.
    text_encoder: dict[str, Any] | str | None = None
    branches: dict[str, Any] | None = None  # edgemood.train.commands.add_branches_to

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Training:
        return cls._read(data)

    def speakers(self) -> dict[str, set[str]] | None:
        """Corpus -> the speakers trained on (RAVDESS actors as "01"), None when the card does
        not say (then no clip can be told apart as heard or unheard)."""
        if isinstance(self.corpora, dict):
            return {
                name: {str(s) for s in (record or {}).get("speakers") or ()}
                for name, record in self.corpora.items()
            }
        if isinstance(self.actors, list):
            return {"ravdess": {f"{int(a):02d}" for a in self.actors}}
        return None


@dataclass(kw_only=True)
class ModelCard(_Record):
    """A fusion model's card. Fields are in the order training writes them."""

    _NESTED: ClassVar[dict[str, type[_Record]]] = {"training": Training}

    format: str
    edgemood_version: str | None = None
    created: str | None = None
    emotions: list[str]
    audio_features: list[str] = field(default_factory=list)
    # The per-frame visual features the model was trained on, by name (a subset of
    # edgemood.visual_features.ALL_VISUAL_FEATURES, in the graph's column order).
    visual_features: list[str] = field(default_factory=list)
    text_dim: int | None = None  # the text slot's width: the encoder's (768, 384)
    audio_max_frames: int | None = None
    visual_max_frames: int | None = None
    audio_frame_rate: float | None = None
    visual_fps: float | None = None
    trained: dict[str, bool] = field(default_factory=dict)  # modality -> trained
    architecture: dict[str, Any] = field(default_factory=dict)  # FusionConfig.to_dict()
    # Model files by "<backend>_<precision>" (onnx_fp32, tflite_int8, ...), and the one to run.
    files: dict[str, str] = field(default_factory=dict)
    default: str | None = None
    licence: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  # evaluation summaries by protocol
    credits: list[str] = field(default_factory=list)
    training: Training = field(default_factory=Training)
    # What quantize/ found (per INT8 file), why the default is what it is, and the held-out
    # reports that decided it.
    quantization: dict[str, Any] = field(default_factory=dict)
    default_reason: str | None = None
    int8_held_out_evidence: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str | Path | None = None) -> ModelCard:
        """The card of a parsed ``model.json``; ModelError when it is not an edgemood fusion
        model card (format, emotions). ``where``: the file, for the message."""
        emotions = data.get("emotions", ()) if isinstance(data, dict) else None
        if (
            not isinstance(data, dict)
            or data.get("format") != CARD_FORMAT
            or not isinstance(emotions, (list, tuple))
            or tuple(emotions) != EMOTIONS
        ):
            prefix = f"{where}: " if where is not None else ""
            raise ModelError(f"{prefix}not an edgemood fusion model card")
        return cls._read(data)

    @property
    def text_encoder(self) -> TextEncoderRecord | None:
        """The encoder the text branch was trained with, or None when the card does not name
        one (older cards hold a plain string, or nothing)."""
        record = self.training.text_encoder
        if not isinstance(record, dict) or "name" not in record:
            return None
        dim = record.get("dim")
        return TextEncoderRecord(
            name=record["name"], dim=None if dim is None else int(dim), source=record.get("source")
        )


def read_card(directory: Path) -> ModelCard:
    """Read and check a model card.

    Args:
        directory: a model directory.
    Returns:
        The card; raises ModelError when it is missing or not an edgemood card.
    """
    path = Path(directory) / CARD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{directory}: not a model directory (no {CARD_NAME})") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path}: unreadable model card ({exc})") from exc
    return ModelCard.from_dict(data, where=path)


def write_card(directory: Path, card: ModelCard) -> None:
    """Write model.json atomically (a reader never sees half a card)."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".model.", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(card.to_dict(), handle, indent=1)
        handle.write("\n")
    os.chmod(tmp, 0o644)  # mkstemp makes it private; a card is meant to be read
    os.replace(tmp, Path(directory) / CARD_NAME)
