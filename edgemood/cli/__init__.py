"""The ``edgemood`` command line: the device commands (infer, bench, serve) and, after them, the
workstation commands (training, the data it reads, export and quantization).

One module per command family (``infer``, ``bench``, ``serve``, ``workstation``), the options
they share in ``options``; each command imports what it runs only when it runs, so building
the app costs typer alone.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Optional

import typer
from typer.core import TyperGroup

from edgemood import __version__
from edgemood.cli.bench import bench
from edgemood.cli.infer import infer
from edgemood.cli.serve import serve
from edgemood.cli.workstation import (
    add_branches,
    evaluate,
    export_app,
    face_pools,
    quantize_app,
    text_finetune,
    text_pools,
    train,
)
from edgemood.errors import ModelError

if TYPE_CHECKING:  # typer carries its own click
    from typer._click import Context, HelpFormatter

DEVICE_COMMANDS = ("infer", "bench", "serve")
WORKSTATION_COMMANDS = (
    "train", "evaluate", "add-branches", "export", "quantize",
    "face-pools", "text-pools", "text-finetune",
)  # fmt: skip


class _Commands(TyperGroup):
    """``--help`` lists the device commands first, then the workstation ones under their own
    heading."""

    def list_commands(self, ctx: Context) -> list[str]:
        known = [*DEVICE_COMMANDS, *WORKSTATION_COMMANDS]
        return [n for n in known if n in self.commands] + [
            n for n in self.commands if n not in known
        ]

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        names = [n for n in self.list_commands(ctx) if not self.commands[n].hidden]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(n, self.commands[n].get_short_help_str(limit)) for n in names]
        sections = (
            ("Commands", [r for r in rows if r[0] in DEVICE_COMMANDS]),
            ("Workstation commands (run from a checkout of edgemood)",
             [r for r in rows if r[0] not in DEVICE_COMMANDS]),
        )  # fmt: skip
        for heading, section in sections:
            if section:
                with formatter.section(heading):
                    formatter.write_dl(section)


app = typer.Typer(
    cls=_Commands,
    help="Multimodal emotion recognition (voice, face, words) for edge devices.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: it wraps every line to the terminal, where rich's boxed tables cut
    # long words at 80 columns with an ellipsis.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"edgemood {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[
        Optional[bool],  # noqa: UP045
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = None,
) -> None:
    pass  # the options of ``edgemood`` itself (the app's help is set above)


app.command(short_help="Emotion, sentiment and probabilities of each clip.")(infer)
app.command(short_help="Speed, memory, model sizes and accuracy on this device.")(bench)
app.command(short_help="Local HTTP API and watch folder, models kept warm.")(serve)
app.command(short_help="Train the fusion model on RAVDESS (train extra).")(train)
app.command(short_help="Train and test under a protocol (train extra).")(evaluate)
app.command(
    "add-branches", short_help="Teach a voice model faces and words from other data (train extra)."
)(add_branches)
app.add_typer(export_app, name="export", short_help="FP32 ONNX/TFLite model files (train extra).")
app.add_typer(
    quantize_app, name="quantize", short_help="INT8 model files and their parity (train extra)."
)
app.command("face-pools", short_help="Face-set pools (FER2013, JAFFE, CK+48) for add-branches.")(
    face_pools
)
app.command("text-pools", short_help="Text pools (GoEmotions, XED) for add-branches.")(text_pools)
app.command(
    "text-finetune", short_help="Fine-tune a sentence encoder for the text slot (train extra)."
)(text_finetune)


def main() -> None:
    """Entry point of the console script (and of ``python -m edgemood``)."""
    try:
        app()
    except ModelError as exc:
        typer.echo(f"edgemood: {exc}", err=True)
        sys.exit(exc.exit_code)
