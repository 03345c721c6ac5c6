"""Real RAVDESS features as model inputs, split by actor into calibration and parity sets.

Calibration draws only from actors the model was trained on and that are not parity-test actors,
so the quantized model is never tuned on the clips it is judged on. Inputs are padded exactly as
the device pads them (``FusionModel.feed``). A model with a face or text branch is calibrated
and judged with faces (``quantize.faces``) or sentences (``quantize.texts``) too, paired with
voices as in training (``quantize.partners``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgemood.features import FeatureExtractor
from edgemood.model import FusionModel
from edgemood.train.data import SPEAKER_FOLDS, Clip, index_clips, load_features
from edgemood.train.pairing import PairingConfig
from edgemood.train.pools import Pool
from quantize.faces import FaceSets
from quantize.partners import alone_feeds, pair_voices, pairing_of
from quantize.texts import TextSets

DEFAULT_TEST_ACTORS = SPEAKER_FOLDS[0]


@dataclass
class FeedSet:
    """Batch-1 model inputs with labels; ``describe`` goes into the reports."""

    feeds: list[dict[str, np.ndarray]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    actors: list[int] = field(default_factory=list)  # 0: a face or sentence alone (no voice)

    def describe(self) -> dict:
        present = sum((f["present"][:, :3].sum(0) > 0).astype(int) for f in self.feeds)
        voices, faces, texts = (int(x) for x in present) if self.feeds else (0, 0, 0)
        return {
            "clips": len(self.feeds),
            "actors": sorted(set(self.actors) - {0}),
            "with_voice": voices,
            "with_face": faces,
            "with_text": texts,
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
    # "voices+faces", with a text branch "texts" and "voices+texts"; each must keep FP32's
    # answers.
    conditions: dict[str, FeedSet] = field(default_factory=dict)
    faces: dict | None = None  # the face pools used (FaceSets.describe), None: no face branch
    texts: dict | None = None  # the text pool used (TextSets.describe), None: no text branch
    mixture: dict | None = None  # the pairing rates calibration used (None: voices alone)


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
    texts: TextSets | None = None,
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
        texts: the text pool (``quantize.texts.load_text_sets``); likewise for a text branch.
    """
    model = FusionModel(model_dir, backend="onnx", precision="fp32")
    trained_on = set(model.card.training.actors or [])
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
    splits = Splits(
        calibration=_to_feeds(calibration, model),
        test=_to_feeds(test, model),
        test_actors_in_training=bool(trained_on & set(test_actors)),
    )
    splits.conditions["voices"] = splits.test
    for branch, given, what in (("visual", faces, "face pools"), ("text", texts, "a text pool")):
        if model.trained[branch] and given is None:
            raise SystemExit(f"quantize: {model_dir} has a {branch} branch: {what} needed")
    faces = faces if model.trained["visual"] else None
    texts = texts if model.trained["text"] else None
    if faces is not None or texts is not None:
        _add_partners(splits, model, faces, texts, np.random.default_rng(seed))
    return splits


def _add_partners(
    splits: Splits,
    model: FusionModel,
    faces: FaceSets | None,
    texts: TextSets | None,
    rng: np.random.Generator,
) -> None:
    """Calibration in the training mixture (``training.branches.pairing``): voices, each with a
    face and a sentence at the pairing's rates, plus faces alone and sentences alone; parity
    conditions with held-out faces and sentences alone and paired with the test voices."""
    mix = pairing_of(model)
    cal = splits.calibration
    cal_faces = faces.calibration if faces else None
    cal_texts = texts.calibration if texts else None
    cal.feeds, _ = pair_voices(cal.feeds, cal.labels, rng, cal_faces, cal_texts, mix)
    for modality, pool, share in (("visual", cal_faces, mix.face_alone),
                                  ("text", cal_texts, mix.text_alone)):  # fmt: skip
        if pool is not None:
            picks = rng.integers(0, len(pool), round(len(cal.feeds) * share))
            feeds, labels = alone_feeds(model, modality, pool, picks)
            splits.calibration = splits.calibration.extend(FeedSet(feeds, labels, [0] * len(feeds)))
    splits.mixture = {
        "face_rate": mix.face_rate if faces else None,
        "face_alone": mix.face_alone if faces else None,
        "text_rate": mix.text_rate if texts else None,
        "neutral_text": mix.neutral_text if texts else None,
        "text_alone": mix.text_alone if texts else None,
    }
    if faces is not None:
        missing = _held_out_conditions(splits, model, "visual", faces.held_out, rng)
        splits.faces = {
            **faces.describe(),
            "calibration_mixture": {"face_rate": mix.face_rate, "face_alone": mix.face_alone},
            "test_voices_without_a_held_out_face_of_their_label": missing,
        }
    if texts is not None:
        missing = _held_out_conditions(splits, model, "text", texts.held_out, rng)
        splits.texts = {
            **texts.describe(),
            "calibration_mixture": {
                "text_rate": mix.text_rate,
                "neutral_text": mix.neutral_text,
                "text_alone": mix.text_alone,
            },
            "test_voices_without_a_held_out_sentence_of_their_label": missing,
        }


CONDITION = {"visual": "faces", "text": "texts"}


def _held_out_conditions(
    splits: Splits, model: FusionModel, modality: str, held_out: Pool, rng: np.random.Generator
) -> int:
    """Adds the conditions "faces"/"texts" (the held-out samples alone) and "voices+faces"/
    "voices+texts" (each test voice with a held-out partner of its label, never a neutral
    sentence in its place); returns how many test voices no held-out sample could partner."""
    name = CONDITION[modality]
    feeds, labels = alone_feeds(model, modality, held_out, np.arange(len(held_out)))
    splits.conditions[name] = FeedSet(feeds, labels, [0] * len(feeds))
    test = splits.test
    pairing = PairingConfig(face_rate=1.0, text_rate=1.0, neutral_text=0.0)
    pools = {"faces": held_out} if modality == "visual" else {"texts": held_out}
    paired, present = pair_voices(test.feeds, test.labels, rng, pairing=pairing, **pools)
    keep = np.flatnonzero(present[:, 1 if modality == "visual" else 2])
    if not len(keep):
        raise SystemExit(f"quantize: no held-out {name[:-1]} has the label of any test voice")
    splits.conditions[f"voices+{name}"] = FeedSet(
        [paired[i] for i in keep], [test.labels[i] for i in keep], [test.actors[i] for i in keep]
    )
    return int(len(test.feeds) - len(keep))
