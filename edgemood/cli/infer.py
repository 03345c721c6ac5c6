"""``edgemood infer``: the emotion of each clip, or (``--timeline``, ``--plot``) of each window of a
recording."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemood.cli.options import DebugOption, Runtime, expand_clips, fail, with_option_groups
from edgemood.errors import EdgemoodError, InputError


def _format(prediction) -> str:
    from edgemood.labels import MODALITIES

    used = "+".join(m for m in MODALITIES if prediction.modalities[m]) or "none"
    lines = [
        f"{prediction.file}: {prediction.emotion} (sentiment: {prediction.sentiment}; used: {used})"
    ]
    order = sorted(
        prediction.to_json()["probabilities"].items(), key=lambda kv: kv[1], reverse=True
    )
    lines += [f"  {name:<10} {p:6.3f}  {'#' * round(p * 40)}" for name, p in order]
    lines += [f"  note: {note}" for note in prediction.notes]
    return "\n".join(lines)


@with_option_groups
def infer(
    clips: Annotated[
        # Plain strings: click's path checks would reject an unreadable file for the whole call
        # with a boxed message; edgemood reports each bad clip on one line and goes on.
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Video or audio files, folders (searched recursively for media files) or "
            "patterns such as '*.m4a' (expanded here when quoted). A .txt file is a text-only "
            "input: its content is the words.",
            show_default=False,
        ),
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="Run on the bundled example clip.")
    ] = False,
    *,
    runtime: Runtime,
    transcript: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="The spoken words (else, in order: CLIP.txt beside the clip, the CLIP.srt/.vtt "
            "cues of the analysed span, the RAVDESS name). JSON 'text_source' says which."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line per clip, on stdout.")
    ] = False,
    timeline: Annotated[
        bool,
        typer.Option(
            "--timeline",
            help="Follow each whole recording over time: a row per window and a summary "
            "(--json adds 'segments' and 'summary'). Text comes from CLIP.srt/CLIP.vtt cues.",
        ),
    ] = False,
    window: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.1, help="--timeline: window length in seconds (default 2)."),
    ] = None,
    hop: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(min=0.1, help="--timeline: seconds between window starts (default 1)."),
    ] = None,
    plot: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Draw the timeline as a PNG (implies --timeline; several clips: "
            "PLOT_STEM-CLIP_STEM.png). Needs the [plot] extra."
        ),
    ] = None,
    debug: DebugOption = False,
) -> None:
    """Print the emotion, the sentiment and the 8 probabilities of each clip.

    Sentiment: happy and surprised are positive; neutral and calm are neutral;
    sad, angry, fearful and disgust are negative.

    Exit code 0 when every clip was processed, 2 when any clip failed (the
    others are still processed), 3 when the model cannot be loaded.
    """
    from edgemood.pipeline import EXAMPLE_CLIP, Recognizer
    from edgemood.prediction import error_json
    from edgemood.progress import Progress

    paths = expand_clips(clips or []) + ([(EXAMPLE_CLIP, None)] if example else [])
    if not paths:
        fail("no clips given (pass files, or --example for the bundled one)", 2)
    timeline = timeline or plot is not None
    if timeline:
        from edgemood.timeline import HOP_S, WINDOW_S

        window, hop = window or WINDOW_S, hop or HOP_S
    if timeline and hop > window:
        fail(f"--hop {hop:g} is longer than --window {window:g}: windows would leave gaps", 2)
    if plot is not None:
        from edgemood.cli.timeline_plot import EXTRA_MESSAGE, have_plotting

        if not have_plotting():
            fail(EXTRA_MESSAGE, 4)
    try:
        recognizer = Recognizer(
            runtime.model,
            backend=runtime.backend,
            precision=runtime.precision,
            threads=runtime.threads,
            text_encoder=runtime.text_encoder,
        )
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code, debug)

    # A progress bar on stderr for several clips, and only on a terminal: stdout stays clean for
    # --json, and logs (a service, a pipe) get the error lines alone.
    progress = Progress(len(paths), "clips") if len(paths) > 1 and sys.stderr.isatty() else None

    def echo(text: str) -> None:
        if progress is not None:
            progress.clear()  # the bar is drawn again at the next clip
        typer.echo(text)

    failed = 0
    for done, (clip, error) in enumerate(paths, 1):
        prediction = None
        if error is None:
            try:
                if timeline:
                    _timeline(recognizer, clip, (window, hop, transcript), as_json,
                              _plot_path(plot, clip, len(paths)), echo)  # fmt: skip
                else:
                    prediction = recognizer.predict(clip, transcript)
            except (EdgemoodError, OSError, MemoryError) as exc:
                if debug:
                    raise
                error = str(exc) if isinstance(exc, EdgemoodError) else f"{clip}: {exc}"
        if prediction is not None:
            echo(json.dumps(prediction.to_json(), ensure_ascii=False) if as_json
                 else _format(prediction))  # fmt: skip
        if error is not None:
            failed += 1
            if progress is not None:
                progress.line(f"edgemood: {error}")
            else:
                typer.echo(f"edgemood: {error}", err=True)
            if as_json:
                echo(json.dumps(error_json(str(clip), error), ensure_ascii=False))
        if progress is not None:
            progress.update(done)
    if progress is not None:
        progress.close()
    if failed:
        raise typer.Exit(InputError.exit_code)


def _plot_path(plot: Path | None, clip: Path, count: int) -> Path | None:
    if plot is None or count == 1:
        return plot
    return plot.with_name(f"{plot.stem}-{clip.stem}{plot.suffix or '.png'}")


def _timeline(
    recognizer,
    clip: Path,
    settings: tuple,
    as_json: bool,
    plot: Path | None,
    echo: Callable[[str], None],
) -> None:
    """One recording through ``--timeline``: rows printed as windows are analysed."""
    from edgemood.cli.timeline_text import footer, header, row

    window, hop, transcript = settings
    run = recognizer.timeline(clip, window, hop, transcript)
    last = None
    if not as_json:
        echo(header(run))
    for segment in run:
        if not as_json:
            echo(row(run, segment, last))
        last = segment
    result = run.to_json()
    if plot is not None:
        from edgemood.cli.timeline_plot import plot_timeline

        plot_timeline(result, plot)
    if as_json:
        echo(json.dumps(result, ensure_ascii=False))
    else:
        echo(footer(run, last) + (f"\n  plot: {plot}" if plot is not None else ""))
