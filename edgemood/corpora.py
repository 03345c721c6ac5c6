"""Labelled clips from a folder or a manifest, whatever corpus they come from.

Four layouts are read, and a folder's layout is recognised from its file names:

- RAVDESS names (``03-01-05-02-01-01-12.flac``): emotion, statement and actor in the name;
- EmoDB names (``03a01Fa.flac``): speaker, sentence and an emotion letter;
- a folder per emotion (``angry/take1.wav``, ``Happy/…``), speaker unknown;
- a CSV manifest ``path,emotion[,speaker][,corpus][,transcript]`` (a header row names the
  columns; paths are relative to the CSV).

Emotions outside the 8 (EmoDB's boredom, a folder called ``contempt``) are left out and
counted, so the caller can say how many. Pure standard library: ``edgemood bench --data`` uses
it on the device, and training uses it on the workstation.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from edgemood.decode import media_files
from edgemood.errors import InputError
from edgemood.labels import EMOTIONS
from edgemood.ravdess import SPEAKER_FOLDS, parse_name

LAYOUTS = (
    "RAVDESS names (03-01-05-02-01-01-12.wav)",
    "EmoDB names (03a01Fa.wav)",
    "a folder per emotion (angry/, happy/, ...)",
    "a CSV manifest (path,emotion[,speaker][,corpus][,transcript])",
)

# EmoDB: Burkhardt F. et al. (2005) A Database of German Emotional Speech. Interspeech 2005.
# The 6th character of a name is the emotion (German initials); L (Langeweile, boredom) is none
# of the 8.
EMODB_LETTERS = {
    "W": "angry",
    "L": "boredom",
    "E": "disgust",
    "A": "fearful",
    "F": "happy",
    "T": "sad",
    "N": "neutral",
}
EMODB_FEMALE_SPEAKERS = frozenset({"08", "09", "13", "14", "16"})
_EMODB_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([A-Z])([a-z])$")

# Other spellings a folder or manifest may use for the 8 classes.
SYNONYMS = {
    "anger": "angry",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "fear": "fearful",
    "disgusted": "disgust",
    "surprise": "surprised",
    "neu": "neutral",
    "ang": "angry",
    "hap": "happy",
}


@dataclass
class LabelledClip:
    """A media file and what is known about it."""

    path: Path
    emotion: str  # one of EMOTIONS
    corpus: str
    speaker: str | None = None  # unique within the corpus; None: unknown
    transcript: str | None = None  # the words spoken, when the corpus says
    female: bool | None = None

    @property
    def label(self) -> int:
        return EMOTIONS.index(self.emotion)


@dataclass
class Corpus:
    """The clips read from one folder or manifest, and what was left out of it."""

    name: str
    layout: str
    clips: list[LabelledClip]
    left_out: Counter = field(default_factory=Counter)  # emotion outside the 8 -> clips

    @property
    def emotions(self) -> tuple[str, ...]:
        """The classes this corpus has, in model order."""
        present = {c.emotion for c in self.clips}
        return tuple(e for e in EMOTIONS if e in present)

    def note(self) -> str | None:
        """One line on the clips left out, or None."""
        if not self.left_out:
            return None
        total = sum(self.left_out.values())
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.left_out.items()))
        return (
            f"{self.name}: left out {total} clip{'s' * (total != 1)} of emotions outside the 8 "
            f"({kinds})"
        )


def emotion_of(value: str) -> str:
    """The model's class for a label as people write it ('Anger', 'happiness'), or the label
    lower-cased when it is none of the 8."""
    word = value.strip().lower()
    return SYNONYMS.get(word, word)


def read_corpus(source: Path, name: str | None = None) -> Corpus:
    """The labelled clips of a folder or CSV manifest.

    Args:
        source: a folder (RAVDESS names, EmoDB names, or a sub-folder per emotion) or a CSV file.
        name: what to call the corpus (default: the layout's corpus, or the folder's name).
    Returns:
        The corpus; emotions outside the 8 are left out and counted in ``left_out``.
    Raises:
        InputError: the path does not exist, or holds no clips in any layout it reads.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _manifest(source, name)
    if not source.is_dir():
        raise InputError(f"{source}: not a folder or a .csv manifest")
    files = media_files([source])
    ravdess = [(f, parse_name(f)) for f in files]
    ravdess = [(f, n) for f, n in ravdess if n is not None]
    if ravdess:
        clips = [
            LabelledClip(f, n.emotion, name or "ravdess", f"{n.actor:02d}", n.transcript, n.female)
            for f, n in ravdess
        ]
        return Corpus(name or "ravdess", "ravdess", clips)
    emodb = [(f, _EMODB_NAME.match(f.stem)) for f in files]
    emodb = [(f, m) for f, m in emodb if m is not None and m.group(3) in EMODB_LETTERS]
    if emodb:
        corpus = Corpus(name or "emodb", "emodb", [])
        for f, m in emodb:
            emotion = EMODB_LETTERS[m.group(3)]
            if emotion not in EMOTIONS:
                corpus.left_out[emotion] += 1
                continue
            speaker = m.group(1)
            female = speaker in EMODB_FEMALE_SPEAKERS
            corpus.clips.append(LabelledClip(f, emotion, corpus.name, speaker, None, female))
        return corpus
    by_folder = _per_emotion_folders(source, files, name or source.name)
    if by_folder is not None:
        return by_folder
    raise InputError(
        f"{source}: no labelled clips found; the layouts read are: " + "; ".join(LAYOUTS)
    )


def _per_emotion_folders(source: Path, files: list[Path], name: str) -> Corpus | None:
    """Clips under ``source/<emotion>/``: None unless at least one sub-folder is one of the 8."""
    corpus = Corpus(name, "folders", [])
    for file in files:
        parts = file.relative_to(source).parts
        if len(parts) < 2:
            continue
        emotion = emotion_of(parts[0])
        if emotion in EMOTIONS:
            corpus.clips.append(LabelledClip(file, emotion, name))
        else:
            corpus.left_out[emotion] += 1
    return corpus if corpus.clips else None


def _manifest(path: Path, name: str | None) -> Corpus:
    """A CSV manifest: a header naming at least ``path`` and ``emotion``; optional ``speaker``,
    ``corpus`` (default: the CSV's name), ``transcript``, ``gender`` (f/m)."""
    corpus_name = name or path.stem
    corpus = Corpus(corpus_name, "manifest", [])
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV manifest ({exc})") from None
    if not rows or not {"path", "emotion"} <= set(rows[0]):
        raise InputError(
            f"{path}: a manifest needs a header with at least the columns path and emotion "
            "(path,emotion[,speaker][,corpus][,transcript])"
        )
    missing = 0
    for row in rows:
        file = (path.parent / (row.get("path") or "").strip()).resolve()
        if not row.get("path") or not file.is_file():
            missing += 1
            continue
        emotion = emotion_of(row.get("emotion") or "")
        if emotion not in EMOTIONS:
            corpus.left_out[emotion or "(none)"] += 1
            continue
        gender = (row.get("gender") or "").strip().lower()[:1]
        corpus.clips.append(
            LabelledClip(
                file,
                emotion,
                (row.get("corpus") or "").strip() or corpus_name,
                (row.get("speaker") or "").strip() or None,
                (row.get("transcript") or "").strip() or None,
                {"f": True, "m": False}.get(gender),
            )
        )
    if missing:
        corpus.left_out["(file not found)"] += missing
    if not corpus.clips:
        raise InputError(f"{path}: no row names an existing file with one of the 8 emotions")
    return corpus


def speaker_folds(clips: list[LabelledClip], count: int = 5) -> list[tuple[str, ...]]:
    """Speaker-independent test folds of one corpus: RAVDESS's published folds (4 actors: 2
    male, 2 female), otherwise ``count`` folds that each take a man and a woman where genders are
    known (EmoDB: 5 folds of one man and one woman), else speakers dealt round-robin.

    Returns:
        The speakers of each fold; empty when the clips name fewer than 2 speakers.
    """
    speakers = sorted({c.speaker for c in clips if c.speaker is not None})
    if len(speakers) < 2:
        return []
    if all(parse_name(c.path) is not None for c in clips):
        return [
            tuple(f"{a:02d}" for a in fold if f"{a:02d}" in speakers)
            for fold in SPEAKER_FOLDS
            if any(f"{a:02d}" in speakers for a in fold)
        ]
    gender = {c.speaker: c.female for c in clips if c.speaker is not None}
    women = [s for s in speakers if gender[s] is True]
    men = [s for s in speakers if gender[s] is False]
    rest = [s for s in speakers if gender[s] is None]
    count = min(count, len(speakers))
    folds: list[list[str]] = [[] for _ in range(count)]
    for group in (men, women, rest):
        for i, speaker in enumerate(group):
            folds[i % count].append(speaker)
    return [tuple(f) for f in folds if f]
