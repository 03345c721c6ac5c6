"""Text pools: every kept sentence of a corpus encoded by the device's text encoder (one
sentence per call, exactly as ``edgemood.text.TextEncoder`` runs on the device), saved with
``edgemood.train.pools.save_pool`` for the fusion trainer.

    edgemood text-pools ENCODER_DIR --goemotions DIR --xed DIR --out DIR
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgemood.text import TextEncoder, read_manifest
from edgemood.train.pools import Pool, save_pool
from edgemood.train.text_corpora import XED_SPLIT_SEED, Sentence, read_goemotions, read_xed

CORPUS_CREDIT = {
    "goemotions": {
        "corpus": "GoEmotions (Demszky et al., ACL 2020), single-label rows, authors' Ekman "
        "grouping, official split",
        "licence": "Apache-2.0",
    },
    "xed": {
        "corpus": "XED English (Öhman et al., COLING 2020), single-label lines, anticipation "
        f"and trust dropped, split 80/10/10 by seeded text hash (seed {XED_SPLIT_SEED})",
        "licence": "CC BY 4.0",
    },
}


def _pool(sentences: Sequence[Sentence], features: np.ndarray) -> Pool:
    return Pool(
        features,
        np.array([s.label for s in sentences], dtype=np.int64),
        np.array([s.group for s in sentences]),
        np.array([s.split for s in sentences]),
    )


def write_pool_in_parts(
    encoder: TextEncoder, sentences: Sequence[Sentence], path: Path, meta: dict, every: int
) -> Pool:
    """Encode test, then dev, then train, and rewrite the pool every ``every`` sentences, so that
    a long run stopped part-way leaves a usable pool; ``meta["complete"]`` and
    ``meta["encoded"]`` say how far it got (a part-way pool holds a prefix of train)."""
    order = {"test": 0, "dev": 1, "train": 2}
    sentences = sorted(sentences, key=lambda s: order.get(s.split, 3))  # stable within a split
    features = np.zeros((len(sentences), encoder.dim), np.float32)
    for i, sentence in enumerate(sentences):
        features[i] = encoder(sentence.text)
        done = i + 1
        if done % every == 0 or done == len(sentences):
            pool = _pool(sentences[:done], features[:done])
            pool.meta = {**meta, "complete": done == len(sentences), "encoded": done,
                         "total": len(sentences)}  # fmt: skip
            save_pool(path, pool)
            print(f"{path.name}: {done}/{len(sentences)}", flush=True)
    return pool


def write_text_pools(
    encoder_dir: Path, out: Path, goemotions: Path | None = None, xed: Path | None = None
) -> None:
    """``edgemood text-pools``: write ``goemotions.npz`` and/or ``xed.npz`` (the corpora given)
    into ``out``, encoded by the text encoder in ``encoder_dir``; a line on stdout per corpus."""
    manifest = read_manifest(encoder_dir)
    encoder = TextEncoder(encoder_dir)
    for name, root, reader in (
        ("goemotions", goemotions, read_goemotions),
        ("xed", xed, read_xed),
    ):
        if root is None:
            continue
        start = time.monotonic()
        meta = {
            "modality": "text",
            "encoder": manifest.get("name", str(encoder_dir)),
            "encoder_model": encoder.model_file.name,
            "dim": encoder.dim,
            **CORPUS_CREDIT[name],
        }
        pool = write_pool_in_parts(encoder, reader(root), out / f"{name}.npz", meta, 2000)
        print(f"{name}: {len(pool)} sentences in {time.monotonic() - start:.0f} s", flush=True)


if __name__ == "__main__":  # the tool moved: say where, rather than exit having done nothing
    raise SystemExit(
        "python -m edgemood.train.text_pools is now `edgemood text-pools` (see --help)"
    )
