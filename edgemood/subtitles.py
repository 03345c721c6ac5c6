"""Subtitle cues (``.srt``, ``.vtt``): the words of a long recording, with their times.

Only what the timeline needs is read: each cue's start, end and text. Cue numbers, WebVTT
headers, NOTE/STYLE/REGION blocks, cue settings (``align:start``) and markup (``<i>``, ``{\\an8}``)
are dropped. A sidecar is found by the clip's stem: ``CLIP.srt`` or ``CLIP.vtt`` beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from edgemood.errors import InputError

SUFFIXES = (".srt", ".vtt")
# HH:MM:SS,mmm (SRT) or [HH:]MM:SS.mmm (WebVTT); some SRT writers use a dot, so both are taken.
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_MARKUP = re.compile(r"<[^>]*>|\{[^}]*\}")


@dataclass(frozen=True)
class Cue:
    """One subtitle: shown from ``start`` to ``end`` seconds."""

    start: float
    end: float
    text: str


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return (
        int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1e3
    )


def parse_subtitles(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT document, in time order (empty cues dropped).

    Args:
        text: the file's contents.
    Returns:
        The cues; a block without a ``-->`` time line is not a cue and is skipped.
    """
    cues = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            match = _TIMING.match(line)
            if match:
                groups = match.groups()
                words = " ".join(_MARKUP.sub("", t).strip() for t in lines[i + 1 :])
                words = " ".join(words.split())
                if words:
                    cues.append(Cue(_seconds(*groups[:4]), _seconds(*groups[4:]), words))
                break
    return sorted(cues, key=lambda c: c.start)


def find_subtitles(clip: str | Path) -> Path | None:
    """The sidecar ``CLIP.srt`` or ``CLIP.vtt`` beside ``clip`` (SRT first), or None."""
    for suffix in SUFFIXES:
        sidecar = Path(clip).with_suffix(suffix)
        if sidecar.is_file():
            return sidecar
    return None


def read_subtitles(path: str | Path) -> list[Cue]:
    """Read and parse a subtitle file (UTF-8, a BOM allowed; bad bytes replaced).

    Raises:
        InputError: the file cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: subtitles unreadable ({exc.strerror})", "unreadable") from exc
    return parse_subtitles(text)


def words_between(cues: list[Cue], start: float, end: float) -> str:
    """The text of the cues (in time order, as ``parse_subtitles`` gives them) shown at any
    moment of [start, end)."""
    return " ".join(c.text for c in cues if c.start < end and c.end > start)
