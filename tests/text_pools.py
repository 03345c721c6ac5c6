"""Tiny text pools for the quantization tests: random sentence vectors written with the real
``save_pool``. The fixture models' cards record no text encoder, so the pool's ``encoder`` is
any name there (only its width is checked, as the device checks an encoder for such a card)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgemood.train.pools import Pool, save_pool


def write_text_pool(
    path: Path,
    dim: int,
    labels: Sequence[int] = (0, 2, 3, 4, 6),  # no calm, as text corpora
    per_label: int = 3,
    seed: int = 0,
    encoder: str = "test encoder",
) -> Pool:
    """Write ``per_label`` sentences per label in each of the splits train and test."""
    rng = np.random.default_rng(seed)
    n = len(labels) * per_label * 2
    vectors = rng.normal(size=(n, dim))
    # Unit length: the fixture models' text layers are untrained (random weights), and at the
    # real GoEmotions pool's spread (entries' std 0.53) INT8 keeps only about 90 % of their
    # answers on sentences alone (measured); these tests check the mechanics (which inputs,
    # which conditions, figures recomputed), the recipe's parity is measured on a trained model.
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pool = Pool(
        vectors.astype(np.float32),
        np.tile(np.repeat(labels, per_label), 2).astype(np.int64),
        np.array([f"comment{i}" for i in range(n)]),
        np.repeat(np.array(["train", "test"]), n // 2),
        {"modality": "text", "encoder": encoder, "dim": dim},
    )
    save_pool(path, pool)
    return pool
