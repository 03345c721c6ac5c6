"""RAVDESS file names: seven two-digit fields that encode modality, emotion, statement and actor.

Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and Song
(RAVDESS). PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391. CC BY-NC-SA 4.0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgemood.labels import EMOTIONS

STATEMENTS: dict[int, str] = {
    1: "Kids are talking by the door",
    2: "Dogs are sitting by the door",
}

# The speaker-independent protocol of ../shared/ravdess/folds.json: 5 folds of 4 actors
# (2 male = odd, 2 female = even); train on the other actors.
SPEAKER_FOLDS: tuple[tuple[int, ...], ...] = (
    (1, 2, 3, 4),
    (5, 6, 7, 8),
    (9, 10, 11, 12),
    (13, 14, 15, 16),
    (17, 18, 19, 20),
)

MODALITY_NAMES: dict[int, str] = {1: "audio-video", 2: "video-only", 3: "audio-only"}

_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@dataclass(frozen=True)
class RavdessName:
    """The fields of a RAVDESS file name such as ``03-01-05-02-01-01-12.flac``."""

    modality: int
    vocal_channel: int
    emotion_code: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def emotion(self) -> str:
        return EMOTIONS[self.emotion_code - 1]

    @property
    def label(self) -> int:
        """Index of the emotion in EMOTIONS (the model's output order)."""
        return self.emotion_code - 1

    @property
    def transcript(self) -> str:
        return STATEMENTS[self.statement]

    @property
    def female(self) -> bool:
        return self.actor % 2 == 0


def parse_name(path: str | Path) -> RavdessName | None:
    """Parse a RAVDESS file name; return None when the name does not follow the scheme.

    Args:
        path: a path or bare file name; only the stem is read.
    Returns:
        The parsed fields, or None for any name that is not a valid RAVDESS name.
    """
    match = _NAME.match(Path(path).stem)
    if match is None:
        return None
    fields = [int(g) for g in match.groups()]
    modality, channel, emotion, intensity, statement, repetition, actor = fields
    valid = (
        modality in MODALITY_NAMES
        and channel in (1, 2)
        and 1 <= emotion <= len(EMOTIONS)
        and intensity in (1, 2)
        and statement in STATEMENTS
        and repetition in (1, 2)
        and 1 <= actor <= 24
    )
    return RavdessName(*fields) if valid else None
