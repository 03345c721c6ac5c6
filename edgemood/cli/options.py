"""What the command modules share: the device options, option groups, one-line failures and the
expansion of clip arguments.

Imports typer and the standard library only: every command module imports it when the app is
built, before any command runs.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Optional

import typer

ModelOption = Annotated[
    Optional[Path],  # noqa: UP045 (typer reads the annotation at runtime on Python 3.10)
    typer.Option(
        "--model", "-m", help="Model directory or .onnx/.tflite file (default: the bundled one)."
    ),
]
BackendOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="Runtime: onnx or tflite (default: the model directory's default)."),
]
PrecisionOption = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option(help="fp32 or int8 (default: the model directory's default)."),
]
ThreadsOption = Annotated[int, typer.Option(min=1, help="Threads per runtime session.")]
TextEncoderOption = Annotated[
    Optional[Path],  # noqa: UP045
    typer.Option(
        help="Directory of an exported text encoder (else $EDGEMOOD_TEXT_ENCODER, else the "
        "bundled one for a model with a text branch)."
    ),
]
DebugOption = Annotated[bool, typer.Option(help="Show tracebacks.")]


class OptionGroup:
    """Base of a dataclass of options that several commands take alike (fields: an option type
    and a default each). A keyword-only command parameter annotated with such a class (no
    default: ``*, runtime: Runtime``) stands, in the command line and its help, for the class's
    options, in their order; the command receives one instance (see ``with_option_groups``)."""


def with_option_groups(command: Callable) -> Callable:
    """Give ``command`` the options of each ``OptionGroup`` parameter in its place: typer reads
    the returned function's signature (every parameter keyword-only: typer passes them by name),
    and the call gathers the group's values into an instance. Goes under ``@app.command``."""
    signature = inspect.signature(command, eval_str=True)
    groups: dict[str, tuple[type, list[str]]] = {}
    parameters: list[inspect.Parameter] = []
    for parameter in signature.parameters.values():
        group = parameter.annotation
        if not (isinstance(group, type) and issubclass(group, OptionGroup)):
            parameters.append(parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        hints = typing.get_type_hints(group, include_extras=True)
        fields = dataclasses.fields(group)
        groups[parameter.name] = (group, [field.name for field in fields])
        parameters += [
            inspect.Parameter(
                field.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=field.default,
                annotation=hints[field.name],
            )
            for field in fields
        ]

    @functools.wraps(command)
    def run(**values):
        for name, (group, names) in groups.items():
            values[name] = group(**{n: values.pop(n) for n in names})
        return command(**values)

    run.__signature__ = signature.replace(parameters=parameters)
    run.__annotations__ = {p.name: p.annotation for p in parameters}
    return run


@dataclasses.dataclass(frozen=True)
class Runtime(OptionGroup):
    """The model and how it runs: infer and bench."""

    model: ModelOption = None
    backend: BackendOption = None
    precision: PrecisionOption = None
    threads: ThreadsOption = 1
    text_encoder: TextEncoderOption = None


def fail(message: str, code: int, debug: bool = False) -> typing.NoReturn:
    """One line on stderr and the exit code; with --debug, the traceback of the error at hand."""
    if debug and sys.exc_info()[0] is not None:
        raise  # fail is called from inside an except block
    typer.echo(f"edgemood: {message}", err=True)
    raise typer.Exit(code)


def expand_clips(args: list[str]) -> list[tuple[Path, str | None]]:
    """Files, folders (searched recursively) and quoted patterns to the clips they name, in the
    order given; a folder without media or a pattern that matches nothing comes with its error."""
    from edgemood.decode import MEDIA_SUFFIXES, is_pattern, media_files

    out: list[tuple[Path, str | None]] = []
    for arg in args:
        found = media_files([arg])
        if Path(arg).is_dir() and not found:
            kinds = " ".join(sorted(MEDIA_SUFFIXES))
            out.append((Path(arg), f"{arg}: no media files in this folder (looked for {kinds})"))
        elif is_pattern(arg) and found == [Path(arg)]:
            out.append((Path(arg), f"{arg}: no file matches this pattern"))
        else:
            out += [(path, None) for path in found]
    return out
