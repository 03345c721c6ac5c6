"""Unpaired single-modality training data (faces from face sets, sentences from text corpora) as
one array file per source, so the fusion trainer can pair them with RAVDESS voices.

A pool file (``.npz``) holds, for N samples:

    features  float32 [N, D]  one feature vector per sample (a face: the per-frame visual
                              features of one image; a sentence: the text encoder's vector)
    labels    int64 [N]       index into ``edgemood.labels.EMOTIONS``
    groups    str [N]         who or what a sample comes from (a face set's subject, a corpus'
                              comment id), for splits that keep a group on one side
    split     str [N]         the source's own split ("train", "test", ...) or "" if none
    meta      str []          JSON: the modality, feature names or encoder, source, licence
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemood.labels import EMOTIONS


@dataclass
class Pool:
    """Samples of one modality from one source."""

    features: np.ndarray
    labels: np.ndarray
    groups: np.ndarray
    split: np.ndarray
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.features)
        if not (len(self.labels) == len(self.groups) == len(self.split) == n):
            raise ValueError("pool arrays differ in length")
        if n and (self.labels.min() < 0 or self.labels.max() >= len(EMOTIONS)):
            raise ValueError("pool labels must index EMOTIONS")

    def __len__(self) -> int:
        return len(self.features)

    def subset(self, keep: np.ndarray) -> Pool:
        """The samples where ``keep`` (a boolean mask or an index array) selects."""
        return Pool(
            self.features[keep], self.labels[keep], self.groups[keep], self.split[keep], self.meta
        )


def save_pool(path: str | Path, pool: Pool) -> None:
    """Write a pool atomically (a crash never leaves a half-written file under the name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as handle:
        np.savez(
            handle,
            features=pool.features.astype(np.float32),
            labels=pool.labels.astype(np.int64),
            groups=pool.groups.astype(str),
            split=pool.split.astype(str),
            meta=np.array(json.dumps(pool.meta)),
        )
    os.replace(tmp, path)


def load_pool(path: str | Path) -> Pool:
    """Read a pool written by ``save_pool``."""
    with np.load(path, allow_pickle=False) as data:
        return Pool(
            data["features"],
            data["labels"],
            data["groups"],
            data["split"],
            json.loads(str(data["meta"])),
        )


def face_pool(paths: Sequence[Path], split: str, features: Sequence[str]) -> Pool:
    """Face-set pools (``edgemood face-pools``) joined, cut to ``split`` ("all":
    every image) and to the named per-frame visual ``features``."""
    pools = [load_pool(p) for p in paths]
    for path, pool in zip(paths, pools):
        missing = [f for f in features if f not in pool.meta.get("feature_names", ())]
        if missing:
            raise SystemExit(f"edgemood: {path}: no face feature(s) {', '.join(missing)}")
    joined = Pool(
        np.concatenate(
            [p.features[:, [p.meta["feature_names"].index(f) for f in features]] for p in pools]
        ),
        np.concatenate([p.labels for p in pools]),
        np.concatenate([p.groups for p in pools]),
        np.concatenate([p.split for p in pools]),
        {"sources": [p.meta.get("source") for p in pools], "feature_names": list(features)},
    )
    if split != "all":
        joined = joined.subset(joined.split == split)
    if not len(joined):
        raise SystemExit(f"edgemood: no face images in split {split!r} of the face pools")
    return joined


def text_pool(path: Path, record: dict | None) -> Pool:
    """A text pool's training part; its encoder must be the one the model card will name."""
    pool = load_pool(path)
    width = pool.features.shape[1]
    if record is not None and (
        width != record["dim"] or pool.meta.get("encoder") not in (None, record["name"])
    ):
        raise SystemExit(
            f"edgemood: {path}: sentences encoded by {pool.meta.get('encoder')!r} ({width}-d), "
            f"not by the text encoder given ({record['name']!r}, {record['dim']}-d)"
        )
    return pool.subset(pool.split == "train")
