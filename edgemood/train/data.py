"""Labelled data for training: index corpora (``edgemood.corpora``: RAVDESS or EmoDB names, a
folder per emotion, a CSV manifest), extract features once into a cache.

Works on RAVDESS's audio-only release (``Actor_XX/03-01-...flac|wav``) and on the audio-visual
one (``Actor_XX/01-01-...mp4``, ``02-01-...mp4``) alike: each file gives whatever it holds.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edgemood.corpora import Corpus, LabelledClip, read_corpus
from edgemood.errors import EdgemoodError, InputError
from edgemood.features import FeatureExtractor
from edgemood.labels import MODALITIES
from edgemood.model import ModelInputs
from edgemood.ravdess import (
    SPEAKER_FOLDS,  # noqa: F401  (re-exported for research scripts)
    parse_name,
)
from edgemood.visual_features import VISUAL_FEATURES

# Bump when a feature's definition changes: cached features of an older version are recomputed.
FEATURE_VERSION = "1"
# How face frames are picked (decoder, rate), stored beside cached face rows: rows sampled
# another way are recomputed, while audio-only entries keep their keys and stay valid. 2: PyAV
# frames turned upright, non-reference frames skipped (2026-11-25); entries without it were
# sampled at 5 frames per second through OpenCV.
VISUAL_SAMPLING = "2"


@dataclass
class Clip:
    """A labelled clip and its features (filled by load_features)."""

    path: Path
    label: int  # index in EMOTIONS
    corpus: str = "ravdess"
    speaker: str | None = None  # as the corpus names it ("01"); None: unknown
    transcript: str | None = None
    female: bool | None = None
    inputs: ModelInputs | None = None
    augmented: str | None = None  # e.g. "speed 0.9" for a perturbed copy used in training only
    ravdess: bool = False  # named by the RAVDESS scheme (its speaker is an actor number)

    @classmethod
    def of(cls, clip: LabelledClip, layout: str = "") -> Clip:
        return cls(
            clip.path,
            clip.label,
            clip.corpus,
            clip.speaker,
            clip.transcript,
            clip.female,
            ravdess=layout == "ravdess",
        )

    @property
    def actor(self) -> int | None:
        """The RAVDESS actor number, None for a clip of another corpus."""
        return int(self.speaker) if self.ravdess and self.speaker else None

    @property
    def speaker_key(self) -> str | None:
        """The speaker, unique across corpora ("emodb/03"), None when unknown."""
        return None if self.speaker is None else f"{self.corpus}/{self.speaker}"


def ravdess_clip(path: Path, inputs: ModelInputs | None = None) -> Clip:
    """The clip of a RAVDESS-named file (ValueError for another name)."""
    name = parse_name(path)
    if name is None:
        raise ValueError(f"{path}: not a RAVDESS name")
    speaker = f"{name.actor:02d}"
    return Clip(
        Path(path),
        name.label,
        "ravdess",
        speaker,
        name.transcript,
        name.female,
        inputs,
        ravdess=True,
    )


def index_corpora(sources: Sequence[Path]) -> tuple[list[Clip], list[Corpus]]:
    """The labelled clips of every folder or manifest in ``sources`` (``edgemood.corpora``), in
    order, and the corpora they came from (for notes and the model card).

    Raises:
        InputError: a source holds no labelled clips (the message names the layouts read).
    """
    clips, corpora = [], []
    for source in sources:
        corpus = read_corpus(Path(source))
        corpora.append(corpus)
        clips += [Clip.of(c, corpus.layout) for c in corpus.clips]
    return clips, corpora


def index_clips(root: Path) -> list[Clip]:
    """Every labelled clip under ``root`` (any layout of ``edgemood.corpora``), or an empty
    list when there is none."""
    try:
        return index_corpora([root])[0]
    except InputError:
        return []


def _cache_key(path: Path, text_id: str) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{FEATURE_VERSION}|{text_id}"
    return hashlib.sha1(key.encode()).hexdigest()


def _visual_sampling(extractor: FeatureExtractor) -> str:
    return f"{VISUAL_SAMPLING}|{extractor.visual_fps:g} fps"


def _save(path: Path, inputs: ModelInputs, visual_sampling: str | None = None) -> None:
    arrays = {m: getattr(inputs, m) for m in MODALITIES if getattr(inputs, m) is not None}
    if inputs.visual is not None and visual_sampling is not None:
        arrays["visual_sampling"] = np.array(visual_sampling)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(fd, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)


def _load(path: Path, visual_sampling: str | None = None) -> ModelInputs | None:
    """The cached inputs; None when they hold face rows sampled otherwise than
    ``visual_sampling`` (given: the caller computes them again)."""
    with np.load(path) as data:
        stored = str(data["visual_sampling"]) if "visual_sampling" in data.files else None
        if visual_sampling is not None and "visual" in data.files and stored != visual_sampling:
            return None
        return ModelInputs(**{m: data[m] for m in MODALITIES if m in data.files})


def load_features(
    clips: Sequence[Clip],
    extractor: FeatureExtractor,
    cache_dir: Path | None,
    text_id: str = "none",
    progress: bool = True,
) -> list[Clip]:
    """Fill ``clip.inputs`` for every clip, from the cache when it is there.

    Args:
        clips: from index_clips.
        extractor: computes the features on a cache miss.
        cache_dir: where per-clip .npz files live (None: no cache).
        text_id: names the text encoder, so text vectors of different encoders never mix.
        progress: show a progress bar on stderr.
    Returns:
        The clips that have at least one modality (unreadable ones are reported and dropped).
    """
    import typer

    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    # Another visual feature set than the default 35 geometry features is another cache entry
    # (the default keeps its old keys, so existing caches stay valid).
    key_id = text_id
    if tuple(extractor.visual_features) != VISUAL_FEATURES:
        key_id = f"{text_id}|visual {','.join(extractor.visual_features)}"
    sampling = _visual_sampling(extractor)
    kept = []
    with typer.progressbar(clips, label="features", file=sys.stderr, hidden=not progress) as bar:
        for clip in bar:
            # A manifest's transcript is the clip's words (a RAVDESS name's are read from it).
            words = None if clip.ravdess else clip.transcript
            key = key_id if words is None or text_id == "none" else f"{key_id}|words {words}"
            cached = cache_dir / f"{_cache_key(clip.path, key)}.npz" if cache_dir else None
            inputs = _load(cached, sampling) if cached is not None and cached.exists() else None
            if inputs is not None:
                clip.inputs = inputs
            else:
                try:
                    clip.inputs = extractor(clip.path, transcript=words).inputs
                except EdgemoodError as exc:
                    print(f"edgemood: skipped {exc}", file=sys.stderr)
                    continue
                if cached is not None:
                    _save(cached, clip.inputs, sampling)
            if any(getattr(clip.inputs, m) is not None for m in MODALITIES):
                kept.append(clip)
    return kept


def _change_speed(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster: tempo and pitch move together, as on a tape (the standard
    speed perturbation of speech recognition, which also shifts the apparent vocal tract)."""
    count = max(1, int(len(samples) / factor))
    positions = np.arange(count) * factor
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def speed_perturbed(
    clips: Sequence[Clip],
    factors: Sequence[float],
    cache_dir: Path | None,
    progress: bool = True,
) -> dict[Path, list[Clip]]:
    """Training copies of each clip with its audio sped up or slowed down.

    New voices differ from the training actors mostly in pitch range and vocal-tract length;
    speed perturbation (0.9x and 1.1x) shows the model more of both. Measured on RAVDESS speaker
    folds: benchmarks/research/README.md, "Voice model".

    Args:
        clips: clips with features (load_features).
        factors: speed factors, e.g. (0.9, 1.1).
        cache_dir: where the copies' features are cached (None: no cache).
        progress: show a progress bar on stderr.
    Returns:
        clip path -> its perturbed copies (clips without audio have none).
    """
    transforms = [
        (f"speed {f:g}", lambda samples, clip, f=f: _change_speed(samples, f)) for f in factors
    ]
    return audio_copies(clips, transforms, cache_dir, "speed perturbation", progress)


# Bump when a corruption's definition (edgemood.train.augment) changes: cached copies are redone.
CORRUPTION_VERSION = "1"


def corrupted_copies(
    clips: Sequence[Clip],
    kinds: Sequence[str],
    cache_dir: Path | None,
    progress: bool = True,
) -> dict[Path, list[Clip]]:
    """A copy of each clip per corruption of ``edgemood.train.augment`` (noise, room, codec,
    telephone, gain), seeded by the clip's file name: the same copy in every run."""
    from edgemood.train.augment import corrupt

    transforms = [
        (
            f"{kind} v{CORRUPTION_VERSION}",
            lambda samples, clip, kind=kind: corrupt(samples, kind, clip.path.name),
        )
        for kind in kinds
    ]
    return audio_copies(clips, transforms, cache_dir, "corrupted copies", progress)


def audio_copies(
    clips: Sequence[Clip],
    transforms: Sequence[tuple[str, Callable[[np.ndarray, Clip], np.ndarray]]],
    cache_dir: Path | None,
    label: str,
    progress: bool = True,
) -> dict[Path, list[Clip]]:
    """Copies of each clip with its audio transformed, features cached by the transform's tag.
    Face and text features are shared with the original clip.

    Returns:
        clip path -> its copies, one per transform (clips without audio have none).
    """
    import typer

    from edgemood.audio_features import audio_features
    from edgemood.decode import decode_audio

    copies: dict[Path, list[Clip]] = {}
    with_audio = [c for c in clips if c.inputs is not None and c.inputs.audio is not None]
    if not transforms or not with_audio:
        return copies
    with typer.progressbar(with_audio, label=label, file=sys.stderr, hidden=not progress) as bar:
        for clip in bar:
            samples = None
            for tag, transform in transforms:
                cached = cache_dir / f"{_cache_key(clip.path, tag)}.npz" if cache_dir else None
                if cached is not None and cached.exists():
                    audio = _load(cached).audio
                else:
                    samples = decode_audio(clip.path) if samples is None else samples
                    audio = audio_features(transform(samples, clip))
                    if cached is not None:
                        _save(cached, ModelInputs(audio=audio))
                inputs = ModelInputs(audio=audio, visual=clip.inputs.visual, text=clip.inputs.text)
                copy = replace(clip, inputs=inputs, augmented=tag)
                copies.setdefault(clip.path, []).append(copy)
    return copies
