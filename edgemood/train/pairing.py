"""Fusion from unpaired data: RAVDESS voices, faces from face sets and sentences from text
corpora, put together into training samples anew every epoch.

No data set here holds a voice, a face and words of the same moment. The fusion model still has
to learn (a) any single modality alone and (b) how modalities that co-occur combine. So each
epoch:

- every RAVDESS clip (label e) gets, each with its own chance, a face of label e and a sentence;
  the sentence is of label e, or, with ``neutral_text`` chance, a neutral one whatever e is: most
  spoken words carry no emotion (RAVDESS's own two statements are neutral), and a neutral
  sentence must not drag a clear voice to "neutral". So that neutral words are exactly as
  common beside every emotion, a neutral or calm voice gets no sentence in the other case;
- calm has no faces and no sentences (no face set or corpus labels it): a calm clip gets a
  neutral face or sentence, as a calm face reads as neutral; only the voice tells them apart;
- single-modality samples (a face alone, a sentence alone) keep each branch answering alone.

The model's modality dropout (``TrainConfig.modality_dropout``) then hides modalities at random
on top, so every subset is seen. Partners are drawn from the training parts of the pools only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from edgemood.labels import EMOTIONS
from edgemood.train.pools import Pool

NEUTRAL = EMOTIONS.index("neutral")
CALM = EMOTIONS.index("calm")


@dataclass
class PairingConfig:
    face_rate: float = 0.5  # chance a voice gets a face partner in an epoch
    text_rate: float = 0.5  # chance a voice gets a sentence partner
    # Share of sentence partners that are neutral, whatever the voice. 0.8 since the text-2
    # encoder: with 0.5 a voice's own statement cost it 0.5 points on the speaker folds (0.628
    # against 0.633 alone), with 0.8 it does not (0.635), and an unseen neutral sentence drags
    # less (0.565 against 0.544); emotional words beside a voice lose 1 point (0.776 against
    # 0.787). benchmarks/research/README.md, "Fusion from unpaired data (folds 1–2 unless
    # said)"; these text-2 figures: the git history of benchmarks/RESULTS.md.
    neutral_text: float = 0.8
    # Neutral and calm voices get a (neutral) sentence only as often as every other voice does.
    balanced_neutral_text: bool = True
    # Share of the neutral sentences that are the voice's own words (its RAVDESS statement),
    # where the voices come with them (``Partners.epoch(own_text=...)``).
    own_words: float = 0.5
    # Single-modality samples per epoch, as a share of the voice samples (each kind).
    face_alone: float = 0.5
    text_alone: float = 0.5
    # Pair faces/sentences with voices of the same label; False: presence mask only (voices
    # stay alone, each modality is learned from its own samples; measured against pairs).
    pairs: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def partner_label(label: int) -> int:
    """The face or sentence label a voice of ``label`` is paired with (calm -> neutral)."""
    return NEUTRAL if label == CALM else label


class Partners:
    """Draws faces and sentences for voices, and single-modality samples, epoch by epoch."""

    def __init__(
        self, faces: Pool | None, texts: Pool | None, config: PairingConfig | None = None
    ) -> None:
        """
        Args:
            faces: per-image visual features (one frame each) with labels; None: no face branch.
            texts: sentence vectors with labels; None: no text branch.
            config: rates.
        """
        self.faces, self.texts = faces, texts
        self.config = config or PairingConfig()
        self._by_label = {
            name: _index_by_label(pool) for name, pool in (("visual", faces), ("text", texts))
        }

    @property
    def visual_dim(self) -> int | None:
        return self.faces.features.shape[1] if self.faces is not None else None

    @property
    def text_dim(self) -> int | None:
        return self.texts.features.shape[1] if self.texts is not None else None

    def _draw(self, modality: str, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pool indices of one random sample of each label in ``labels`` (-1 where the pool has
        none of that label)."""
        index = np.full(len(labels), -1)
        for label, members in self._by_label[modality].items():
            where = np.flatnonzero(labels == label)
            if len(where):
                index[where] = rng.choice(members, len(where))
        return index

    def epoch(
        self,
        arrays: dict[str, np.ndarray],
        labels: np.ndarray,
        rng: np.random.Generator,
        own_text: np.ndarray | None = None,
    ) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
        """One epoch's training samples.

        Args:
            arrays: the voices' padded arrays (``fit.batch_arrays``; no visual or text).
            labels: their labels.
            rng: the training run's generator.
            own_text: the voices' own words as sentence vectors [N, D] (RAVDESS statements),
                used for ``own_words`` of their neutral sentences; None: none.
        Returns:
            Parts of (arrays, labels): first the voices with this epoch's partners, then the
            faces alone and the sentences alone (short arrays: batched apart from the voices, so
            they never pay for padding to a voice's length).
        """
        c = self.config
        n = len(labels)
        voices = {k: v.copy() for k, v in arrays.items()}
        parts = [(voices, labels)]
        for modality, pool, rate, alone_share in (
            ("visual", self.faces, c.face_rate, c.face_alone),
            ("text", self.texts, c.text_rate, c.text_alone),
        ):
            if pool is None:
                continue
            if c.pairs:
                wanted = np.array([partner_label(int(x)) for x in labels])
                unpaired = np.zeros(n, bool)
                if modality == "text":
                    neutral = rng.random(n) < c.neutral_text
                    if c.balanced_neutral_text:
                        # A neutral or calm voice gets no emotional sentence, so no other neutral
                        # one either: every voice then meets neutral words equally often, and
                        # neutral words say nothing about the voice's emotion.
                        unpaired = ~neutral & (wanted == NEUTRAL)
                    wanted = np.where(neutral, NEUTRAL, wanted)
                chosen = self._draw(modality, wanted, rng)
                chosen[unpaired | (rng.random(n) >= rate)] = -1
                _put(voices, modality, pool, chosen)
                if modality == "text" and own_text is not None and c.own_words:
                    own = neutral & (chosen >= 0) & (rng.random(n) < c.own_words)
                    voices["text"][own] = own_text[own]
            count = round(n * alone_share)
            if count:
                picks = rng.integers(0, len(pool), count)
                single = empty_like(arrays, count)
                _put(single, modality, pool, picks)
                parts.append((single, pool.labels[picks]))
        return parts


def _index_by_label(pool: Pool | None) -> dict[int, np.ndarray]:
    if pool is None:
        return {}
    return {int(label): np.flatnonzero(pool.labels == label) for label in np.unique(pool.labels)}


def empty_like(arrays: dict[str, np.ndarray], count: int) -> dict[str, np.ndarray]:
    """Arrays for ``count`` samples with no modality present: sequences cut to 4 frames (the
    shortest a batch is cut to; a face sits in frame 0), other arrays as wide as ``arrays``."""
    empty = {}
    for key, value in arrays.items():
        shape = list(value.shape[1:])
        data = key.removesuffix("_mask")
        if data in ("audio", "visual") and arrays[data].ndim == 3:
            shape[0] = min(shape[0], 4)
        empty[key] = np.zeros((count, *shape), np.float32)
    return empty


def _put(arrays: dict[str, np.ndarray], modality: str, pool: Pool, chosen: np.ndarray) -> None:
    """Write pool samples ``chosen`` (-1: none) into ``arrays`` in place, as one face frame or
    one sentence vector, and mark the modality present."""
    rows = np.flatnonzero(chosen >= 0)
    features = pool.features[chosen[rows]]
    if modality == "visual":
        arrays["visual"][rows] = 0.0
        arrays["visual"][rows, 0] = features
        arrays["visual_mask"][rows] = 0.0
        arrays["visual_mask"][rows, 0] = 1.0
        arrays["present"][rows, 1] = 1.0
    else:
        arrays["text"][rows] = features
        arrays["present"][rows, 2] = 1.0
