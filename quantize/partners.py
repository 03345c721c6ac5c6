"""Faces and sentences as partners of voices, for INT8 calibration and parity of a model with a
face or text branch.

No data set here holds a voice, a face and words of the same moment, so (as in training,
``edgemood.train.pairing``) voices are paired with face-set images and sentences of their label
(calm voices with neutral ones; a share of sentences neutral whatever the voice), by training's
own ``Partners``; faces and sentences also go in alone. Every input is padded as the device pads
it (``FusionModel.feed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edgemood.model import INPUT_NAMES, FusionModel, ModelInputs
from edgemood.train.pairing import PairingConfig, Partners
from edgemood.train.pools import Pool


@dataclass
class PoolParts:
    """A modality's samples cut into a calibration part and a held-out (parity) part, with the
    notes said about them (``FaceSets``, ``TextSets`` add what their reports say)."""

    calibration: Pool
    held_out: Pool
    notes: list[str] = field(default_factory=list)


def pairing_of(model: FusionModel) -> PairingConfig:
    """The pairing rates the model's branches were trained with (defaults if not recorded)."""
    branches = model.card.training.branches or {}
    return PairingConfig(**(branches.get("pairing") or {}))


def alone_feeds(
    model: FusionModel, modality: str, pool: Pool, picks: np.ndarray
) -> tuple[list[dict], list[int]]:
    """Faces (one frame each) or sentence vectors alone, as device feeds; and their labels."""

    def inputs(row: np.ndarray) -> ModelInputs:
        return ModelInputs(visual=row[None]) if modality == "visual" else ModelInputs(text=row)

    feeds = [model.feed([inputs(pool.features[i])]) for i in picks]
    return feeds, [int(pool.labels[i]) for i in picks]


def pair_voices(
    feeds: Sequence[dict[str, np.ndarray]],
    labels: Sequence[int],
    rng: np.random.Generator,
    faces: Pool | None = None,
    texts: Pool | None = None,
    pairing: PairingConfig | None = None,
) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
    """The voice feeds with partners put in by ``Partners``' rules (``pairing``'s face and text
    rates and neutral-sentence share; its alone shares are not used here); returns all feeds and
    their ``present`` rows [n, 3] (audio, visual, text) as booleans."""
    arrays = {name: np.concatenate([f[name] for f in feeds]) for name in INPUT_NAMES}
    config = pairing or PairingConfig()
    config = PairingConfig(**{**config.to_dict(), "face_alone": 0.0, "text_alone": 0.0})
    ((paired, _),) = Partners(faces, texts, config).epoch(arrays, np.asarray(labels), rng)
    out = [{name: paired[name][i : i + 1] for name in INPUT_NAMES} for i in range(len(feeds))]
    return out, paired["present"] == 1.0
