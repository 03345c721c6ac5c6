"""Faces for INT8 calibration and parity of a model with a face branch.

No data set here holds a voice and a face of the same moment, so (as in training,
``edgemood.train.pairing``) voices are paired with face-set images of their label (calm voices
with neutral faces). A face is one frame of the card's ``visual_features``, selected by name from
the pool; pairing and padding: ``quantize.partners``.

- Calibration: the pools' train split (a pool without splits: all of it), in the training
  mixture of the model's card (``training.branches.pairing``): each voice paired with a face at
  the pairing's face rate, the rest alone, plus faces alone (the pairing's face-alone share).
- Parity: held-out pools (their test split; a pool without splits: all of it), three conditions:
  the test actors' voices alone, held-out faces alone, and test voices paired with held-out faces
  of their label (a voice whose label no held-out face has is counted, not paired).
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgemood.card import ModelCard
from edgemood.model import FusionModel
from edgemood.train.pools import Pool, face_pool, load_pool
from quantize.partners import PoolParts


class FaceSets(PoolParts):
    """Face pools cut to the model's visual features: calibration and held-out parts."""

    def describe(self) -> dict:
        return {
            "calibration": _describe_pool(self.calibration),
            "held_out": _describe_pool(self.held_out),
            "notes": self.notes,
        }


def _describe_pool(pool: Pool) -> dict:
    return {"images": len(pool), "sources": pool.meta.get("sources", [])}


def _part(paths: Sequence[Path], split: str, names: Sequence[str], notes: list[str]) -> Pool:
    """The ``split`` images of the pools, whole pools where a pool has no splits."""
    pools = []
    for path in paths:
        pool = face_pool([path], "all", names)
        if (pool.split == "").all():
            notes.append(f"{path.name}: no splits, all {len(pool)} images used")
        else:
            pool = pool.subset(pool.split == split)
            if not len(pool):
                raise SystemExit(f"quantize: {path}: no face images in split {split!r}")
        pools.append(pool)
    return Pool(
        np.concatenate([p.features for p in pools]),
        np.concatenate([p.labels for p in pools]),
        np.concatenate([p.groups for p in pools]),
        np.concatenate([p.split for p in pools]),
        {"sources": [s for p in pools for s in p.meta["sources"]], "feature_names": list(names)},
    )


def require_faces(
    card: ModelCard, directory: Path, calibration: Sequence[Path], held_out: Sequence[Path]
) -> None:
    """Stop (one line) when a model with a trained face branch is given no face pools, or a
    pool file that is not there."""
    if not card.trained["visual"]:
        return
    if not calibration or not held_out:
        raise SystemExit(
            f"quantize: {directory} has a face branch: give --faces POOL[,POOL] "
            "(calibration) and --held-out-faces POOL[,POOL] (parity)"
        )
    for path in (*calibration, *held_out):
        if not Path(path).is_file():
            raise SystemExit(f"quantize: {path}: no such face pool file")
        try:
            names = load_pool(path).meta.get("feature_names")
        except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile):
            raise SystemExit(
                f"quantize: {path}: not a face pool (made by edgemood face-pools)"
            ) from None
        if not names:
            raise SystemExit(f"quantize: {path}: a pool without face feature names")


def load_face_sets(
    model: FusionModel, calibration: Sequence[Path], held_out: Sequence[Path]
) -> FaceSets | None:
    """The face pools for ``model``; None for a model without a trained face branch (given pools
    are then ignored, with a note on stderr)."""
    import typer

    if not model.trained["visual"]:
        if calibration or held_out:
            typer.echo("quantize: the model has no face branch: face pools ignored", err=True)
        return None
    require_faces(model.card, model.directory, calibration, held_out)
    names = model.visual_features
    notes: list[str] = []
    sets = FaceSets(
        _part(calibration, "train", names, notes), _part(held_out, "test", names, notes), notes
    )
    branches = model.card.training.branches or {}
    trained_on = set((branches.get("faces") or {}).get("sources") or ())
    seen = sorted(trained_on & set(sets.held_out.meta["sources"]))
    if seen:
        notes.append(
            f"held-out faces from {', '.join(seen)}, a source the face branch trained on: "
            "parity there is not on unseen faces' sources"
        )
    for note in notes:
        typer.echo(f"quantize: note: {note}", err=True)
    return sets
