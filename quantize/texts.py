"""Sentences for INT8 calibration and parity of a model with a text branch.

A text pool (``edgemood.train.pools``, e.g. GoEmotions from ``edgemood text-pools``)
holds sentence vectors with labels and splits. It must be as wide as the card's ``text_dim`` and,
when the card records the encoder the text branch was trained with
(``ModelCard.text_encoder``), encoded by that encoder (the pool's meta ``encoder``): the
same rule the device applies to a text encoder. A card that records no encoder (older or test
models) is checked on width alone, with a note.

- Calibration: the pool's train split, paired with voices by training's rules
  (``quantize.partners``) and alone.
- Parity: its test split (at most ``MAX_HELD_OUT`` sentences, a seeded draw), alone and paired
  with the test voices (a sentence of each voice's label).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from edgemood.card import ModelCard
from edgemood.model import FusionModel
from edgemood.train.pools import Pool, load_pool
from quantize.partners import PoolParts

MAX_HELD_OUT = 1000  # held-out sentences judged alone: enough for 1-in-100 disagreements


class TextSets(PoolParts):
    """A text pool's calibration (train) and held-out (test) sentences."""

    def describe(self) -> dict:
        return {
            "pool": self.calibration.meta.get("path"),
            "encoder": self.calibration.meta.get("encoder"),
            "calibration": {"sentences": len(self.calibration), "split": "train"},
            "held_out": {"sentences": len(self.held_out), "split": "test"},
            "notes": self.notes,
        }


def _read(card: ModelCard, path: Path) -> tuple[Pool, list[str]]:
    """The pool at ``path`` if it can feed this card's text branch; else a one-line stop."""
    if not path.is_file():
        raise SystemExit(f"quantize: {path}: no such text pool file")
    try:
        pool = load_pool(path)
    except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
        raise SystemExit(
            f"quantize: {path}: not a text pool (made by edgemood text-pools)"
        ) from None
    width, dim = pool.features.shape[1] if pool.features.ndim == 2 else 0, int(card.text_dim)
    if pool.meta.get("modality") != "text" or width != dim:
        raise SystemExit(
            f"quantize: {path}: {pool.meta.get('modality')} vectors {width} wide; the model's "
            f"text branch takes {dim}-d sentence vectors"
        )
    notes = []
    record, encoder = card.text_encoder, pool.meta.get("encoder")
    if record is None:
        notes.append(f"the card names no text encoder: {path.name}'s ({encoder}) checked on width")
    elif encoder != record.name:
        raise SystemExit(
            f"quantize: {path}: sentences encoded by '{encoder}', the model's text branch was "
            f"trained with '{record.name}'"
        )
    for split in ("train", "test"):
        if not (pool.split == split).any():
            raise SystemExit(f"quantize: {path}: no sentences in split {split!r}")
    return pool, notes


def require_texts(card: ModelCard, directory: Path, path: Path | None) -> None:
    """Stop (one line) when a model with a trained text branch is given no usable text pool."""
    if not card.trained["text"]:
        return
    if path is None:
        raise SystemExit(
            f"quantize: {directory} has a text branch: give --texts POOL (sentence vectors of "
            "its text encoder, e.g. goemotions.npz from edgemood text-pools)"
        )
    _read(card, Path(path))


def load_text_sets(
    model: FusionModel, path: Path | None, seed: int = 0, max_held_out: int = MAX_HELD_OUT
) -> TextSets | None:
    """The text pool for ``model``; None for a model without a trained text branch (a given
    pool is then ignored, with a note on stderr)."""
    import typer

    if not model.trained["text"]:
        if path is not None:
            typer.echo("quantize: the model has no text branch: text pool ignored", err=True)
        return None
    if path is None:
        require_texts(model.card, model.directory, path)  # stops: the branch needs a pool
    pool, notes = _read(model.card, Path(path))
    pool.meta = {**pool.meta, "path": str(path)}
    test = np.flatnonzero(pool.split == "test")
    if len(test) > max_held_out:
        notes.append(f"{len(test)} held-out sentences: a seeded draw of {max_held_out} judged")
        test = np.sort(np.random.default_rng(seed).choice(test, max_held_out, replace=False))
    for note in notes:
        typer.echo(f"quantize: note: {note}", err=True)
    return TextSets(pool.subset(pool.split == "train"), pool.subset(test), notes)
