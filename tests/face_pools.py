"""Tiny face pools for the quantization tests (random features, written with the real
``save_pool``): the columns are stored in another order than the card's, plus one the model does
not use, so a pool read by position instead of by feature name gives other faces."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgemood.train.pools import Pool, save_pool


def write_face_pool(
    path: Path,
    names: Sequence[str],
    labels: Sequence[int] = (0, 2, 3, 4),  # neutral, happy, sad, angry: no calm, as face sets
    per_label: int = 3,
    splits: Sequence[str] = ("train", "test"),
    seed: int = 0,
    source: str = "test faces",
) -> Pool:
    """Write a pool of ``per_label`` images per label and split; returns it."""
    rng = np.random.default_rng(seed)
    stored = [*reversed(names), "unused_feature"]
    n = len(labels) * per_label * len(splits)
    pool = Pool(
        rng.normal(size=(n, len(stored))).astype(np.float32),
        np.tile(np.repeat(labels, per_label), len(splits)).astype(np.int64),
        np.array([f"subject{i % 5}" for i in range(n)]),
        np.repeat(np.array(list(splits)), n // len(splits)),
        {"modality": "visual", "source": source, "feature_names": stored},
    )
    save_pool(path, pool)
    return pool


def faces_by_name(pool: Pool, names: Sequence[str]) -> np.ndarray:
    """The pool's features as the card's columns (selected by name)."""
    return pool.features[:, [pool.meta["feature_names"].index(n) for n in names]]
