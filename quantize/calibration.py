"""Real RAVDESS features as model inputs, split by actor into calibration and parity sets.

Calibration draws only from actors the model was trained on and that are not parity-test actors,
so the quantized model is never tuned on the clips it is judged on. Inputs are padded exactly as
the device pads them (``FusionModel.feed``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemood.features import FeatureExtractor
from edgemood.model import FusionModel
from edgemood.train.data import SPEAKER_FOLDS, Clip, index_clips, load_features

DEFAULT_TEST_ACTORS = SPEAKER_FOLDS[0]


@dataclass
class FeedSet:
    """Batch-1 model inputs with labels; ``describe`` goes into the reports."""

    feeds: list[dict[str, np.ndarray]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    actors: list[int] = field(default_factory=list)

    def describe(self) -> dict:
        return {"clips": len(self.feeds), "actors": sorted(set(self.actors))}


@dataclass
class Splits:
    calibration: FeedSet
    test: FeedSet
    test_actors_in_training: bool  # True for a model trained on every actor (the bundled one)


def _to_feeds(clips: Sequence[Clip], model: FusionModel) -> FeedSet:
    out = FeedSet()
    for clip in clips:
        out.feeds.append(model.feed([clip.inputs]))
        out.labels.append(clip.label)
        out.actors.append(clip.actor)
    return out


def build_splits(
    model_dir: Path,
    data: Path,
    cache: Path | None,
    test_actors: Sequence[int] = DEFAULT_TEST_ACTORS,
    max_calibration: int = 1000,
    seed: int = 0,
) -> Splits:
    """Features of every RAVDESS clip under ``data``, as calibration and parity-test feeds.

    Args:
        model_dir: the FP32 model (its card says which actors it was trained on).
        data: RAVDESS folder.
        cache: feature cache shared with ``edgemood train``.
        test_actors: parity is measured on these actors' clips.
        max_calibration: at most this many calibration clips, drawn evenly by a seeded shuffle.
        seed: for that draw.
    """
    model = FusionModel(model_dir, backend="onnx", precision="fp32")
    trained_on = set(model.card.get("training", {}).get("actors", []))
    extractor = FeatureExtractor(visual_features=model.visual_features)
    clips = load_features(index_clips(data), extractor, cache)
    if not clips:
        raise SystemExit(f"quantize: {data}: no RAVDESS-named media files found")
    test = [c for c in clips if c.actor in set(test_actors)]
    pool = [c for c in clips if c.actor not in set(test_actors)]
    if trained_on:
        pool = [c for c in pool if c.actor in trained_on]
    if not test or not pool:
        raise SystemExit("quantize: need clips of both test and non-test actors")
    order = np.random.default_rng(seed).permutation(len(pool))[:max_calibration]
    calibration = [pool[i] for i in sorted(order)]
    return Splits(
        calibration=_to_feeds(calibration, model),
        test=_to_feeds(test, model),
        test_actors_in_training=bool(trained_on & set(test_actors)),
    )
