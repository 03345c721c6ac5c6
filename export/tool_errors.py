"""One-line errors for the workstation tools (``edgemood export``, ``edgemood quantize``): a
missing or invalid model directory or data folder ends the command with a line on stderr and a
non-zero exit, not a traceback (as ``edgemood`` itself does)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from edgemood.errors import EdgemoodError


@contextmanager
def one_line_errors(tool: str) -> Iterator[None]:
    """Turn EdgemoodError and OSError into ``TOOL: reason`` on stderr and the error's exit code
    (OSError: 2)."""
    try:
        yield
    except EdgemoodError as exc:
        typer.echo(f"{tool}: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except OSError as exc:
        typer.echo(f"{tool}: {exc}", err=True)
        raise typer.Exit(2) from None
