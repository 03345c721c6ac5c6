"""``edgemood infer --plot``: a recording's emotion probabilities over time, as a PNG.

Stacked bands (each window drawn over the stretch it stands for: its start to the next window's
start), one fixed colour per emotion so that pictures of different recordings compare; stretches
with no analysed window (no speech, no face) are hatched grey. Title: the file name; subtitle:
the summary. Needs matplotlib, the ``[plot]`` extra.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from edgemood.labels import EMOTIONS

EXTRA_MESSAGE = "--plot needs the [plot] extra (matplotlib): pip install 'edgemood[plot]'"
# Fixed colours: warm for high arousal, blue for sadness and calm, grey for neutral.
COLOURS = {
    "neutral": "#9e9e9e",
    "calm": "#8fc1e3",
    "happy": "#f2c12e",
    "sad": "#2f5f98",
    "angry": "#d7301f",
    "fearful": "#8c6bb1",
    "disgust": "#4d9a3c",
    "surprised": "#f28e2b",
}


# More windows than this are averaged in bands: 1,440 pixels of plot hold no more.
MAX_BANDS = 360


class PlotExtraMissing(ImportError):
    """matplotlib is not installed."""


def have_plotting() -> bool:
    """Whether matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def plot_timeline(result: dict[str, Any], out: str | Path) -> Path:
    """Draw a timeline result as a PNG.

    Args:
        result: the clip's JSON (``Timeline.to_json``, or a watch folder's result file).
        out: the PNG to write.
    Returns:
        ``out``. Raises PlotExtraMissing without matplotlib.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed (a Pi, a server)
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError as exc:
        raise PlotExtraMissing(EXTRA_MESSAGE) from exc

    segments, summary = result["segments"], result["summary"]
    hop = summary["hop_s"]
    end = max([s["end"] for s in segments] + [result.get("duration_s") or 0.0])
    figure, axes = plt.subplots(figsize=(12, 4.2), dpi=120)
    lefts, widths, probabilities, per_band = _bands(segments, hop, end)
    bottom = [0.0] * len(lefts)
    for emotion in EMOTIONS:
        heights = [p[emotion] for p in probabilities]
        axes.bar(lefts, heights, widths, bottom=bottom, align="edge", color=COLOURS[emotion],
                 linewidth=0, label=emotion)  # fmt: skip
        bottom = [b + h for b, h in zip(bottom, heights)]
    covered = 0.0
    for left, width in sorted(zip(lefts, widths)):
        if left > covered + 1e-6:
            axes.axvspan(covered, left, facecolor="#eeeeee", hatch="//", edgecolor="#bbbbbb",
                         linewidth=0)  # fmt: skip
        covered = max(covered, left + width)
    if end > covered + 1e-6:
        axes.axvspan(covered, end, facecolor="#eeeeee", hatch="//", edgecolor="#bbbbbb",
                     linewidth=0)  # fmt: skip
    axes.set_xlim(0, end)
    axes.set_ylim(0, 1)
    axes.set_xlabel(_time_label(end))
    axes.set_ylabel("probability" + (f" (mean of {per_band} windows)" if per_band > 1 else ""))
    if end > 600:
        step = next((m for m in (60, 120, 300, 600, 900, 1800, 3600) if end / m <= 10), 7200)
        ticks = [float(t) for t in range(0, int(end) + 1, step)]
        axes.set_xticks(ticks)
        axes.set_xticklabels([_clock(t) for t in ticks])
        axes.set_xlim(0, end)
    shares = sorted(((e, s) for e, s in summary["share"].items() if s > 0), key=lambda kv: -kv[1])
    text = ", ".join(f"{e} {s * 100:.0f} %" for e, s in shares[:4])
    figure.suptitle(Path(result["file"]).name, fontsize=13, fontweight="bold", x=0.01,
                    ha="left")  # fmt: skip
    axes.set_title(
        f"dominant: {summary['dominant']} ({text} of {summary['analysed_s']:.0f} s analysed); "
        f"{summary['window_s']:g} s windows every {hop:g} s, {summary['skipped_windows']} of "
        f"{summary['windows']} skipped",
        fontsize=9.5, loc="left",
    )  # fmt: skip
    handles = [Patch(color=COLOURS[e], label=e) for e in EMOTIONS]
    handles.append(Patch(facecolor="#eeeeee", hatch="//", edgecolor="#bbbbbb",
                         label="skipped: no speech\nor face"))  # fmt: skip
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False,
                fontsize=9)  # fmt: skip
    figure.tight_layout()
    out = Path(out)
    figure.savefig(out)
    plt.close(figure)
    return out


def _bands(segments: list[dict], hop: float, end: float) -> tuple[list, list, list, int]:
    """(lefts, widths, probabilities, windows per band). Each window stands for its hop (the
    file's last window for the rest of the file). Past ``MAX_BANDS`` windows, consecutive
    windows are averaged in bands of equal time, so an hour stays readable; a band with no
    analysed window stays a gap."""
    per_band = max(1, math.ceil(len(segments) / MAX_BANDS))
    if per_band == 1:
        lefts = [s["start"] for s in segments]
        widths = [
            (s["end"] if s["end"] >= end - 1e-3 else min(s["start"] + hop, s["end"])) - s["start"]
            for s in segments
        ]
        return lefts, widths, [s["probabilities"] for s in segments], 1
    span = per_band * hop
    groups: dict[int, list[dict]] = {}
    for segment in segments:
        groups.setdefault(int(segment["start"] // span), []).append(segment["probabilities"])
    lefts, widths, probabilities = [], [], []
    for index, members in sorted(groups.items()):
        lefts.append(index * span)
        widths.append(min(span, end - index * span))
        probabilities.append({e: sum(m[e] for m in members) / len(members) for e in EMOTIONS})
    return lefts, widths, probabilities, per_band


def _time_label(end: float) -> str:
    return "time (h:mm:ss)" if end > 600 else "time (s)"


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
