"""Real RAVDESS features as model inputs, split by actor into calibration and parity sets.

Calibration draws only from actors the model was trained on and that are not parity-test actors,
so the quantized model is never tuned on the clips it is judged on. Inputs are padded exactly as
the device pads them (``FusionModel.feed``). A model with a face branch is calibrated and judged
with faces too (``quantize.faces``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemood.features import FeatureExtractor
from edgemood.model import FusionModel
from edgemood.train.data import SPEAKER_FOLDS, Clip, index_clips, load_features
from quantize.faces import FaceSets, face_feeds, pair_voices, pairing_of

DEFAULT_TEST_ACTORS = SPEAKER_FOLDS[0]


@dataclass
class FeedSet:
    """Batch-1 model inputs with labels; ``describe`` goes into the reports."""

    feeds: list[dict[str, np.ndarray]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    actors: list[int] = field(default_factory=list)  # 0: a face alone (no voice)

    def describe(self) -> dict:
        present = sum((f["present"][:, :2].sum(0) > 0).astype(int) for f in self.feeds)
        voices, faces = (int(x) for x in present) if self.feeds else (0, 0)
        return {
            "clips": len(self.feeds),
            "actors": sorted(set(self.actors) - {0}),
            "with_voice": voices,
            "with_face": faces,
        }

    def extend(self, other: FeedSet) -> FeedSet:
        """This set followed by ``other``."""
        feeds, labels = [*self.feeds, *other.feeds], [*self.labels, *other.labels]
        return FeedSet(feeds, labels, [*self.actors, *other.actors])


@dataclass
class Splits:
    calibration: FeedSet
    test: FeedSet  # the test actors' voices alone
    test_actors_in_training: bool  # True for a model trained on every actor (the bundled one)
    # Parity conditions by name: "voices" (= test) and, with a face branch, "faces" and
    # "voices+faces"; each must keep FP32's answers.
    conditions: dict[str, FeedSet] = field(default_factory=dict)
    faces: dict | None = None  # the face pools used (FaceSets.describe), None: no face branch


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
    faces: FaceSets | None = None,
) -> Splits:
    """Features of every RAVDESS clip under ``data``, as calibration and parity-test feeds.

    Args:
        model_dir: the FP32 model (its card says which actors it was trained on).
        data: RAVDESS folder.
        cache: feature cache shared with ``edgemood train``.
        test_actors: parity is measured on these actors' clips.
        max_calibration: at most this many calibration clips, drawn evenly by a seeded shuffle.
        seed: for that draw (and the faces').
        faces: face pools (``quantize.faces.load_face_sets``); required for a model with a
            trained face branch, ignored otherwise.
    """
    model = FusionModel(model_dir, backend="onnx", precision="fp32")
    trained_on = set(model.card.get("training", {}).get("actors", []))
    clips = load_features(index_clips(data), FeatureExtractor(), cache)
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
    splits = Splits(
        calibration=_to_feeds(calibration, model),
        test=_to_feeds(test, model),
        test_actors_in_training=bool(trained_on & set(test_actors)),
    )
    splits.conditions["voices"] = splits.test
    if model.trained["visual"]:
        if faces is None:
            raise SystemExit(f"quantize: {model_dir} has a face branch: face pools needed")
        _add_faces(splits, model, faces, np.random.default_rng(seed))
    return splits


def _add_faces(
    splits: Splits, model: FusionModel, faces: FaceSets, rng: np.random.Generator
) -> None:
    """Calibration in the training mixture of voices, voices with faces and faces alone; parity
    conditions with held-out faces alone and paired with the test voices."""
    mix = pairing_of(model)
    cal = splits.calibration
    cal.feeds, _ = pair_voices(cal.feeds, cal.labels, faces.calibration, mix.face_rate, rng)
    picks = rng.integers(0, len(faces.calibration), round(len(cal.feeds) * mix.face_alone))
    feeds, labels = face_feeds(model, faces.calibration, picks)
    splits.calibration = cal.extend(FeedSet(feeds, labels, [0] * len(feeds)))

    test = splits.test
    feeds, labels = face_feeds(model, faces.held_out, np.arange(len(faces.held_out)))
    splits.conditions["faces"] = FeedSet(feeds, labels, [0] * len(feeds))
    paired, got_face = pair_voices(test.feeds, test.labels, faces.held_out, 1.0, rng)
    keep = np.flatnonzero(got_face)
    if not len(keep):
        raise SystemExit("quantize: no held-out face has the label of any test voice")
    splits.conditions["voices+faces"] = FeedSet(
        [paired[i] for i in keep], [test.labels[i] for i in keep], [test.actors[i] for i in keep]
    )
    splits.faces = {
        **faces.describe(),
        "calibration_mixture": {"face_rate": mix.face_rate, "face_alone": mix.face_alone},
        "test_voices_without_a_held_out_face_of_their_label": int(len(got_face) - len(keep)),
    }
