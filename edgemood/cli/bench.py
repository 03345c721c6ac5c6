"""``edgemood bench``: speed, memory, model sizes and accuracy on this device (the measuring is in
``edgemood.cli.measure``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemood.cli.options import DebugOption, Runtime, expand_clips, fail, with_option_groups
from edgemood.errors import EdgemoodError, InputError


@with_option_groups
def bench(
    clips: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Clips or folders to time (default: the bundled example).", show_default=False
        ),
    ] = None,
    data: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Labelled clips (RAVDESS or EmoDB names, a folder per emotion, a CSV manifest): "
            "also report accuracy, macro-F1, restricted UAR, the most frequent answer, confusion."
        ),
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per clip.")] = 10,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed runs per clip first.")] = 2,
    cold_runs: Annotated[
        int, typer.Option(min=0, help="Fresh `edgemood infer` processes to time (0: skip).")
    ] = 3,
    *,
    runtime: Runtime,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    debug: DebugOption = False,
) -> None:
    """Measure speed, memory, model sizes and (with --data) accuracy here.

    Per stage (decode, audio features, face, text, fusion) and end to end:
    median and p95 latency after a warm-up; real-time factor (processing time /
    clip duration, key "rtf" in --json); frames per second of the face stage;
    peak RSS; cold start of a fresh `edgemood infer`. A clip that cannot be
    processed is reported and skipped (exit code 2, as infer).
    """
    from edgemood.cli.measure import (
        BenchConfig,
        NothingMeasured,
        format_table,
        run_accuracy,
        run_bench,
    )
    from edgemood.pipeline import EXAMPLE_CLIP

    config = BenchConfig(
        runs=runs, warmup=warmup, cold_runs=cold_runs, **dataclasses.asdict(runtime)
    )
    expanded = expand_clips(clips) if clips else [(EXAMPLE_CLIP, None)]
    for _, error in expanded:
        if error is not None:
            typer.echo(f"edgemood: {error}", err=True)
    files = [path for path, error in expanded if error is None]
    try:
        if not files:
            raise NothingMeasured("no media files to time")
        result = run_bench(files, config)
        if data is not None:
            result["accuracy"] = run_accuracy(data, config)
    except NothingMeasured:  # each bad clip has had its line on stderr already
        raise typer.Exit(InputError.exit_code) from None
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code, debug)
    typer.echo(json.dumps(result) if as_json else format_table(result))
    # Like infer: the others were measured, but a bad clip (or bad labelled clip) sets exit 2.
    accuracy_failed = (result.get("accuracy") or {}).get("failed")
    if len(files) < len(expanded) or result["failed"] or accuracy_failed:
        raise typer.Exit(InputError.exit_code)
