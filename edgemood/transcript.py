"""Where a clip's words come from, in this order (the first that gives words wins):

1. ``--transcript`` (``"text_source": "transcript"``);
2. the sidecar ``CLIP.txt`` beside the clip (``"sidecar_txt"``);
3. the sidecar subtitles ``CLIP.srt`` / ``CLIP.vtt``: the cues shown during the analysed span
   (clips are cut at MAX_SECONDS; ``"subtitles"``);
4. the statement a RAVDESS file name encodes (``"ravdess_name"``).

A ``.txt`` file given as the input itself is a text-only input: its content is the words
(``"text_file"``), nothing is decoded. A source that is there but gives no words (an empty or
non-UTF-8 file, no cue in the span) is noted and the next one is tried: nothing is dropped
without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgemood.decode import MAX_SECONDS
from edgemood.errors import InputError
from edgemood.ravdess import parse_name
from edgemood.subtitles import find_subtitles, read_subtitles, words_between

TEXT_SUFFIX = ".txt"
# The sources a user gives on purpose: words from them that go unused get a note. A RAVDESS name
# is not one (every RAVDESS clip has it); a model without a text branch passes it by silently.
GIVEN = ("transcript", "sidecar_txt", "subtitles", "text_file")


@dataclass
class Words:
    """The words of a clip, where they came from (``label``: what a note calls the source) and
    what was noted on the way."""

    text: str | None = None
    source: str | None = None
    label: str = ""
    notes: list[str] = field(default_factory=list)


def is_text_file(path: str | Path) -> bool:
    """Whether an input is a text-only input (a ``.txt`` file)."""
    return Path(path).suffix.lower() == TEXT_SUFFIX


def read_words(path: Path) -> tuple[str | None, str | None]:
    """(words, None), or (None, why not): the file is unreadable, not UTF-8 or empty. A UTF-8
    BOM is allowed; runs of whitespace (line breaks) become single spaces."""
    try:
        data = path.read_bytes()
    except PermissionError:
        return None, "permission denied"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    try:
        text = " ".join(data.decode("utf-8-sig").split())
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    return (text, None) if text else (None, "empty")


def text_file_words(path: str | Path) -> Words:
    """The words of a text-only input.

    Raises:
        InputError: the file is missing or a directory (as for a media file).
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a file", "not_a_file")
    if not path.exists():
        raise InputError(f"{path}: file not found", "not_found")
    text, problem = read_words(path)
    if problem is not None:
        return Words(label=path.name, notes=[f"{path.name}: {problem}: no words to use"])
    return Words(text, "text_file", path.name)


def find_words(
    clip: str | Path, transcript: str | None = None, span_s: float = MAX_SECONDS
) -> Words:
    """The words of a media clip, from the first source (module docstring) that has some.

    Args:
        clip: the media file.
        transcript: given explicitly (wins).
        span_s: seconds of the clip analysed: subtitle cues from this time on are left out.
    """
    words = Words()
    if transcript is not None:
        if transcript.strip():
            return Words(" ".join(transcript.split()), "transcript", "--transcript")
        words.notes.append("--transcript is empty: not used")
    clip = Path(clip)
    sidecar = clip.with_suffix(TEXT_SUFFIX)
    if sidecar.is_file():
        text, problem = read_words(sidecar)
        if text:
            return Words(text, "sidecar_txt", sidecar.name, words.notes)
        words.notes.append(f"{sidecar.name}: {problem}: not used")
    subtitles = find_subtitles(clip)
    if subtitles is not None:
        text = _cue_words(subtitles, span_s, words.notes)
        if text:
            return Words(text, "subtitles", subtitles.name, words.notes)
    name = parse_name(clip)
    if name is not None:
        return Words(name.transcript, "ravdess_name", "the RAVDESS file name", words.notes)
    return words


def _cue_words(path: Path, span_s: float, notes: list[str]) -> str | None:
    """The text of the cues shown in [0, span_s); notes for cues left out or none found."""
    try:
        cues = read_subtitles(path)
    except InputError as exc:
        notes.append(f"{path.name}: {exc.reason}: not used")
        return None
    if not cues:
        notes.append(f"{path.name}: no subtitle cues found: not used")
        return None
    later = sum(1 for cue in cues if cue.start >= span_s)
    if later == len(cues):
        notes.append(f"{path.name}: no subtitle cue in the analysed {span_s:g} s: not used")
        return None
    if later:
        notes.append(
            f"{path.name}: {later} of {len(cues)} subtitle cues start after the analysed "
            f"{span_s:g} s: not used"
        )
    return words_between(cues, 0.0, span_s)
