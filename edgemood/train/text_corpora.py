"""English sentences labelled with emotions (GoEmotions, XED), mapped to edgemood's classes.

Rules (kept fixed so results and pools stay comparable):

- GoEmotions (``original/``: ``text \\t ids \\t comment id``, ids index ``emotions.txt``): only
  rows with ONE label id; the id's emotion goes through the authors' ``ekman_mapping.json``
  (neutral stays neutral), then Ekman -> edgemood. The official train/dev/test split is kept.
  Text keeps the files' CSV-style quoting, which is undone here.
- XED English (``en-annotated.tsv``: ``text \\t "1, 4"``; ``neu_en.txt``: ``9 \\t text``): only
  lines with ONE label; anticipation (2) and trust (8) are dropped (no edgemood class); the
  neutral file gives neutral. XED has no split: a line's split comes from a seeded hash of its
  normalised text (80/10/10 train/dev/test), so the split never depends on file order and the
  same sentence (subtitles repeat "No." and "What?") never lands on both sides.
- No corpus has calm: text cannot tell calm from neutral.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from edgemood.labels import EMOTIONS

EKMAN_TO_EDGEMOOD = {
    "joy": "happy",
    "sadness": "sad",
    "anger": "angry",
    "fear": "fearful",
    "disgust": "disgust",
    "surprise": "surprised",
    "neutral": "neutral",
}
# XED's Plutchik ids; 2 (anticipation) and 8 (trust) have no edgemood class; 9 is the neutral file.
XED_TO_EDGEMOOD = {
    1: "angry",
    3: "disgust",
    4: "fearful",
    5: "happy",
    6: "sad",
    7: "surprised",
    9: "neutral",
}
XED_SPLIT_SEED = 15
XED_SPLIT_PERCENT = {"train": 80, "dev": 10, "test": 10}
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Sentence:
    """One labelled sentence."""

    text: str
    label: int  # index into EMOTIONS
    group: str  # GoEmotions comment id, or XED "file:line"
    split: str  # train / dev / test


def _unquote(text: str) -> str:
    """Undo CSV-style quoting: ``"a ""b"" c"`` -> ``a "b" c``."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def read_goemotions(root: str | Path, splits: tuple[str, ...] = SPLITS) -> list[Sentence]:
    """Single-label GoEmotions rows of ``splits``, mapped to EMOTIONS.

    Args:
        root: the ``goemotions`` directory (holding ``original/``) or ``original/`` itself.
        splits: which official splits to read.
    """
    root = Path(root)
    original = root / "original" if (root / "original").is_dir() else root
    names = (original / "emotions.txt").read_text(encoding="utf-8").split()
    ekman = json.loads((original / "ekman_mapping.json").read_text(encoding="utf-8"))
    to_ekman = {member: group for group, members in ekman.items() for member in members}
    to_ekman["neutral"] = "neutral"
    sentences = []
    for split in splits:
        for n, line in enumerate((original / f"{split}.tsv").read_text("utf-8").splitlines()):
            parts = line.split("\t")
            if len(parts) != 3:
                raise ValueError(f"{original / split}.tsv line {n + 1}: expected 3 columns")
            text, ids, comment = parts
            ids = ids.split(",")
            if len(ids) != 1:
                continue
            emotion = EKMAN_TO_EDGEMOOD[to_ekman[names[int(ids[0])]]]
            sentences.append(Sentence(_unquote(text), EMOTIONS.index(emotion), comment, split))
    return sentences


def xed_split(text: str, seed: int = XED_SPLIT_SEED) -> str:
    """The fixed split of an XED line: a seeded hash of its normalised text, 80/10/10."""
    key = f"{seed}:{' '.join(text.lower().split())}".encode()
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") % 100
    if bucket < XED_SPLIT_PERCENT["train"]:
        return "train"
    return "dev" if bucket < XED_SPLIT_PERCENT["train"] + XED_SPLIT_PERCENT["dev"] else "test"


def read_xed(root: str | Path, seed: int = XED_SPLIT_SEED) -> list[Sentence]:
    """Single-label XED English lines (annotated + neutral), mapped to EMOTIONS, with the fixed
    split of ``xed_split``.

    Args:
        root: the ``xed_en`` directory (``en-annotated.tsv``, ``neu_en.txt``).
        seed: split seed (keep the default: the pools and results use it).
    """
    root = Path(root)
    rows = []
    annotated = root / "en-annotated.tsv"
    for n, line in enumerate(annotated.read_text("utf-8").splitlines()):
        text, _, ids = line.rstrip("\r\n").rpartition("\t")
        rows.append((text, ids, f"{annotated.name}:{n + 1}"))
    neutral = root / "neu_en.txt"
    for n, line in enumerate(neutral.read_text("utf-8").splitlines()):
        ids, _, text = line.rstrip("\r\n\t").partition("\t")
        rows.append((text, ids, f"{neutral.name}:{n + 1}"))
    sentences = []
    for text, ids, group in rows:
        if not ids.strip():  # neu_en.txt has one line of tabs only
            continue
        ids = [i.strip() for i in ids.split(",")]
        if len(ids) != 1 or int(ids[0]) not in XED_TO_EDGEMOOD or not text.strip():
            continue
        label = EMOTIONS.index(XED_TO_EDGEMOOD[int(ids[0])])
        sentences.append(Sentence(text.strip(), label, group, xed_split(text, seed)))
    return sentences
