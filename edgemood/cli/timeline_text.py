"""The text output of ``edgemood infer --timeline``: a row per window as it is analysed (skipped
windows as one line per gap), then the summary. Printed as it goes, so a long recording shows
its progress."""

from __future__ import annotations

from edgemood.labels import MODALITIES
from edgemood.timeline import Segment, Timeline


def header(timeline: Timeline) -> str:
    """The clip's first lines: what windows, then the column names."""
    return (
        f"{timeline.path}: timeline, {timeline.window_s:g} s windows every {timeline.hop_s:g} s\n"
        f"  {'start':>8} {'end':>8}  {'emotion':<10} {'p':>5}  used"
    )


def _index(timeline: Timeline, start: float) -> int:
    return round(start / timeline.hop_s)


def _gap(timeline: Timeline, count: int) -> str:
    return (
        f"  {'':>8} {'':>8}  ({count} window{'s' * (count != 1)} skipped: {timeline.skip_reason})"
    )


def row(timeline: Timeline, segment: Segment, previous: Segment | None) -> str:
    """One analysed window, after a gap line when windows before it were skipped."""
    done = _index(timeline, previous.start) + 1 if previous is not None else 0
    skipped = _index(timeline, segment.start) - done
    used = "+".join(m for m in MODALITIES if segment.modalities[m])
    line = (
        f"  {segment.start:8.1f} {segment.end:8.1f}  {segment.emotion:<10} "
        f"{float(segment.probabilities.max()):5.2f}  {used}"
    )
    return f"{_gap(timeline, skipped)}\n{line}" if skipped > 0 else line


def footer(timeline: Timeline, last: Segment | None) -> str:
    """Trailing skipped windows, the summary and the notes."""
    lines = []
    trailing = timeline.windows - (_index(timeline, last.start) + 1 if last is not None else 0)
    if trailing > 0:
        lines.append(_gap(timeline, trailing))
    summary = timeline.summary()
    shares = sorted(((e, s) for e, s in summary["share"].items() if s > 0), key=lambda kv: -kv[1])
    parts = ", ".join(f"{e} {s * 100:.0f} %" for e, s in shares)
    lines.append(
        f"  summary: {parts} of {summary['analysed_s']:.1f} s analysed; "
        f"dominant: {summary['dominant']}"
    )
    lines.append(
        f"  windows: {summary['windows']} ({summary['analysed_windows']} analysed, "
        f"{summary['skipped_windows']} skipped)"
    )
    prediction = timeline.prediction()
    lines += [f"  note: {note}" for note in prediction.notes]
    return "\n".join(lines)
