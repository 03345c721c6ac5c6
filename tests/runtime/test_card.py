"""The model card as ``edgemood.card`` reads and writes it: the bundled card comes back key for
key and in the same order, keys it does not know survive, cards it refuses are refused with the
messages of before, and the device reads it without torch or numpy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edgemood.card import CARD_NAME, ModelCard, TextEncoderRecord, read_card, write_card
from edgemood.errors import ModelError
from edgemood.model import DEFAULT_MODEL_DIR


def _key_order(value):
    """Every object's keys, in order, at every depth."""
    if isinstance(value, dict):
        return [(k, _key_order(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_key_order(v) for v in value]
    return None


def test_the_bundled_card_comes_back_as_it_is_on_disk():
    on_disk = json.loads((DEFAULT_MODEL_DIR / CARD_NAME).read_text(encoding="utf-8"))
    card = read_card(DEFAULT_MODEL_DIR)
    assert card.to_dict() == on_disk
    assert list(card.to_dict()) == list(on_disk)
    assert _key_order(card.to_dict()) == _key_order(on_disk)
    assert card.extra == {}  # every key of the bundled card is a typed field


def test_the_bundled_card_is_rewritten_byte_for_byte(tmp_path):
    write_card(tmp_path, read_card(DEFAULT_MODEL_DIR))
    written = (tmp_path / CARD_NAME).read_bytes()
    assert written == (DEFAULT_MODEL_DIR / CARD_NAME).read_bytes()
    assert (tmp_path / CARD_NAME).stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == [CARD_NAME]  # no temporary file left


def test_the_bundled_card_s_fields():
    card = read_card(DEFAULT_MODEL_DIR)
    on_disk = json.loads((DEFAULT_MODEL_DIR / CARD_NAME).read_text(encoding="utf-8"))
    assert card.default == on_disk["default"] and card.files == on_disk["files"]
    assert card.trained == on_disk["trained"] and card.text_dim == on_disk["text_dim"]
    assert card.visual_features == on_disk["visual_features"]
    assert card.training.actors == on_disk["training"]["actors"]
    record = on_disk["training"]["text_encoder"]
    assert card.text_encoder == TextEncoderRecord(record["name"], record["dim"], record["source"])
    assert card.credits == on_disk["credits"] and card.metrics == on_disk["metrics"]


def test_unknown_keys_survive_a_round_trip_in_their_place(tmp_path):
    data = json.loads((DEFAULT_MODEL_DIR / CARD_NAME).read_text(encoding="utf-8"))
    data = {"format": data["format"], "future_key": {"b": 1, "a": 2}, **data}
    data["training"] = {"future_training_key": [3], **data["training"]}
    (tmp_path / CARD_NAME).write_text(json.dumps(data), encoding="utf-8")
    card = read_card(tmp_path)
    assert card.extra == {"future_key": {"b": 1, "a": 2}}
    assert card.training.extra == {"future_training_key": [3]}
    write_card(tmp_path, card)
    again = json.loads((tmp_path / CARD_NAME).read_text(encoding="utf-8"))
    assert again == data and _key_order(again) == _key_order(data)


def test_keys_set_later_follow_in_field_order_and_null_stays_null():
    """As a dict's assignment did: a new key goes last; a key read keeps its place, even null."""
    card = ModelCard.from_dict(
        {"format": "edgemood-fusion/1", "emotions": list(read_card(DEFAULT_MODEL_DIR).emotions),
         "default": "fusion.onnx", "training": {"text_encoder": None}}
    )  # fmt: skip
    card.quantization = {"fusion.int8.onnx": {}}
    card.default_reason = "why"
    card.default = "fusion.int8.onnx"
    card.extra["later"] = 1
    out = card.to_dict()
    assert list(out) == [
        "format", "emotions", "default", "training", "quantization", "default_reason", "later",
    ]  # fmt: skip
    assert out["training"] == {"text_encoder": None} and card.text_encoder is None


def test_cards_refused_as_before(tmp_path):
    with pytest.raises(ModelError) as error:
        read_card(tmp_path / "nothing")
    assert str(error.value) == f"{tmp_path / 'nothing'}: not a model directory (no model.json)"
    (tmp_path / CARD_NAME).write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError) as error:
        read_card(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / CARD_NAME}: unreadable model card (")
    good = json.loads((DEFAULT_MODEL_DIR / CARD_NAME).read_text(encoding="utf-8"))
    for bad in (
        {**good, "format": "edgemood-fusion/0"},
        {**good, "emotions": good["emotions"][::-1]},
        {k: v for k, v in good.items() if k != "emotions"},
        [good],
    ):
        (tmp_path / CARD_NAME).write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ModelError) as error:
            read_card(tmp_path)
        assert str(error.value) == f"{tmp_path / CARD_NAME}: not an edgemood fusion model card"


def test_the_card_module_loads_without_numpy_or_torch():
    code = (
        "import sys, edgemood.card; "
        "print(sorted(m for m in ('numpy', 'torch', 'onnxruntime') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        cwd=Path(__file__).parent,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"
