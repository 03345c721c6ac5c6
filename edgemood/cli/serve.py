"""``edgemood serve``: the local HTTP API and watch folder (the service is ``edgemood.service``,
imported only when the command runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from edgemood.cli.options import BackendOption, ModelOption, PrecisionOption, fail
from edgemood.errors import EdgemoodError


def serve(
    config_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--config", help="TOML settings (default /etc/edgemood/config.toml if any)."),
    ] = None,
    host: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Address to bind (default 127.0.0.1)."),
    ] = None,
    port: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(help="HTTP port (default 8377)."),
    ] = None,
    watch: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Watch folder: clips dropped here are processed once."),
    ] = None,
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(help="Results folder for the watch folder (default WATCH/results)."),
    ] = None,
    watch_timeline: Annotated[
        bool,
        typer.Option(
            "--watch-timeline",
            help="Watch folder results window by window (segments and summary, as infer "
            "--timeline --json); CLIP.srt/CLIP.vtt dropped beside a clip give the text.",
        ),
    ] = False,
    model: ModelOption = None,
    backend: BackendOption = None,
    precision: PrecisionOption = None,
    threads: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Threads per runtime session (default 1)."),
    ] = None,
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Inference processes (default 1)."),
    ] = None,
    max_upload_mb: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Upload size limit in MB (413 above; default 100)."),
    ] = None,
    clip_timeout_s: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(help="Per-clip time limit in seconds (504 above; default 120)."),
    ] = None,
    log_level: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="debug, info, warning or error (default info)."),
    ] = None,
    token_file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            help="Bearer token file (mode 600): every endpoint but /healthz then needs "
            "'Authorization: Bearer <token>'. Required to bind anything but loopback."
        ),
    ] = None,
    insecure_no_auth: Annotated[
        bool,
        typer.Option(
            "--insecure-no-auth",
            help="Serve a non-loopback address without a token (logged at every start).",
        ),
    ] = False,
    make_token: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--make-token",
            help="Write a new random token to this file (mode 600, never overwritten) and exit.",
        ),
    ] = None,
    allow_dir: Annotated[
        Optional[list[Path]],  # noqa: UP045
        typer.Option(
            help="Folder whose files POST /v1/infer may read by 'path' (repeatable; replaces "
            "the config's allowed_dirs)."
        ),
    ] = None,
) -> None:
    """Keep the models warm and serve a local HTTP API (and a watch folder).

    POST /v1/infer (multipart field 'file', or a 'path' under allowed_dirs)
    returns the JSON of `edgemood infer --json` (?timeline=1: of `infer
    --timeline --json`); GET /healthz; GET /metrics
    (Prometheus). Settings come from a TOML file; options override it. A
    non-loopback host needs a token (--token-file) or --insecure-no-auth.
    Needs the serve extra: pip install 'edgemood[serve]'.
    """
    try:
        import uvicorn  # noqa: F401
    except ImportError:
        fail("edgemood serve needs the [serve] extra: pip install 'edgemood[serve]'", 4)
    from edgemood.service.config import load_config
    from edgemood.service.server import run

    if make_token is not None:
        from edgemood.service.auth import make_token as write_token

        try:
            write_token(make_token)
        except EdgemoodError as exc:
            fail(str(exc), exc.exit_code)
        typer.echo(f"edgemood: new token in {make_token} (mode 600); set api_token_file to it "
                   "and chown it to the service user", err=True)  # fmt: skip
        raise typer.Exit(0)
    overrides = {
        "host": host, "port": port, "watch": watch, "output": output,
        "watch_timeline": watch_timeline or None, "model": model,
        "backend": backend, "precision": precision, "threads": threads, "workers": workers,
        "max_upload_mb": max_upload_mb, "clip_timeout_s": clip_timeout_s, "log_level": log_level,
        "api_token_file": token_file, "insecure_no_auth": insecure_no_auth or None,
        "allowed_dirs": [str(d) for d in allow_dir] if allow_dir else None,
    }  # fmt: skip
    try:
        config = load_config(config_file, overrides)
        code = run(config)
    except EdgemoodError as exc:
        fail(str(exc), exc.exit_code)
    raise typer.Exit(code)
