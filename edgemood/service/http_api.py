"""The local HTTP API of ``edgemood serve`` (Starlette on uvicorn: no hand-written HTTP).

``POST /v1/infer``: a clip as multipart field ``file``, or ``{"path": ...}`` (JSON or form field)
naming a file under an allowed folder (a ``.txt`` file is a text-only input: its content is the
words); answers the JSON of ``edgemood infer --json``
(``?timeline=1``: of ``edgemood infer --timeline --json``, with ``segments`` and ``summary``).
``GET /healthz``: ready or not. ``GET /metrics``: Prometheus text. With a token configured,
every endpoint but ``/healthz`` answers 401 without ``Authorization: Bearer <token>``.

Status codes: 200 prediction; 400 no ``file``/``path``; 401 missing or wrong token; 403 path
outside the allowed folders; 404 path not found; 413 upload over the size limit; 415 not
audio/video (or empty); 422 media that holds nothing usable (corrupt, truncated, silent, no
face); 504 over the per-clip time limit; 500 the inference worker crashed (it is replaced); 503
shutting down.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from collections.abc import AsyncGenerator
from pathlib import Path

import anyio
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from edgemood.errors import InputError, ModelError
from edgemood.prediction import error_json
from edgemood.service.auth import BearerAuth
from edgemood.service.config import ServiceConfig
from edgemood.service.prometheus import Metrics
from edgemood.service.worker import ClipTimeout, WorkerCrashed, WorkerPool
from edgemood.transcript import is_text_file

log = logging.getLogger("edgemood.http")
STATUS = {
    "not_found": 404,
    "not_a_file": 404,
    "unreadable": 403,
    "empty": 415,
    "not_media": 415,
    "corrupt": 422,
    "nothing_usable": 422,
    "timeout": 504,
    "worker_crashed": 500,
    "internal": 500,
}
CHUNK = 1 << 16
TIMELINE_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class _TooLarge(Exception):
    pass


class Service:
    """What the handlers share: config, workers, metrics, and whether we are stopping."""

    def __init__(self, config: ServiceConfig, pool: WorkerPool, metrics: Metrics) -> None:
        self.config = config
        self.pool = pool
        self.metrics = metrics
        self.stopping = False
        self.spool = Path(tempfile.gettempdir())

    def record(self, payload: dict, source: str) -> None:
        for stage, seconds in payload.get("timings", {}).items():
            self.metrics.observe("edgemood_stage_seconds", seconds, stage=stage)
        self.metrics.inc("edgemood_clips_processed_total", source=source, outcome="done")

    def infer(self, path: Path, timeline: bool = False) -> dict:
        """Run one clip through the worker pool (blocking: call from a thread); ``timeline``:
        the whole recording window by window (``edgemood infer --timeline --json``). A ``.txt``
        file is a text-only input, predicted as a whole even when a timeline is asked (noted)."""
        clock = time.perf_counter()
        whole = timeline and is_text_file(path)
        payload = self.pool.infer(path, None, self.config.clip_timeout_s, timeline and not whole)
        if whole:
            payload["json"]["notes"].append("a text file has no timeline: predicted as a whole")
        payload["timings"]["end_to_end"] = time.perf_counter() - clock
        return payload


def _error(service: Service, name: str, message: str, reason: str, status: int) -> JSONResponse:
    service.metrics.inc("edgemood_errors_total", reason=reason)
    service.metrics.inc("edgemood_clips_processed_total", source="http", outcome="failed")
    log.warning("%s", message if name in message else f"{name}: {message}")
    return JSONResponse(error_json(name, message), status_code=status)


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise _TooLarge
        yield chunk


def _allowed(path: Path, folders: list[Path]) -> bool:
    real = Path(os.path.realpath(path))
    return any(real.is_relative_to(Path(os.path.realpath(f))) for f in folders)


async def _upload_to_file(service: Service, upload: UploadFile) -> Path:
    """The upload, spooled under the client's base name in a private folder of its own: what a
    name tells (a RAVDESS name's statement, a .txt input) then works as with ``infer``, and no
    sidecar of another clip can be picked up."""
    base = Path(upload.filename or "").name[-200:]
    if base in ("", ".", ".."):
        base = "upload" + Path(upload.filename or "clip").suffix[:16]
    folder = Path(tempfile.mkdtemp(prefix="edgemood-upload-", dir=service.spool))
    path = folder / base
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := await upload.read(CHUNK):
            out.write(chunk)
    return path


def _named(text: str, clip: Path, name: str) -> str:
    """Errors and notes name the upload as the client did, not by its spool file (notes about a
    text file's words say its base name)."""
    return text.replace(str(clip), name).replace(clip.name, Path(name).name)


async def infer_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    if service.stopping:
        return JSONResponse({"error": "shutting down"}, status_code=503)
    limit = int(service.config.max_upload_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return _error(service, "upload", f"upload over {service.config.max_upload_mb:g} MB",
                      "too_large", 413)  # fmt: skip
    timeline = request.query_params.get("timeline", "0").lower()
    if timeline not in TIMELINE_VALUES:
        return _error(service, "request", f"timeline must be 1 or 0, not {timeline!r}",
                      "bad_request", 400)  # fmt: skip
    content_type = request.headers.get("content-type", "")
    upload, path_field, temporary = None, None, None
    try:
        if content_type.startswith("multipart/form-data"):
            parser = MultiPartParser(request.headers, _limited(request, limit), max_files=1,
                                     max_fields=10)  # fmt: skip
            form = await parser.parse()
            upload = form.get("file")
            path_field = form.get("path")
        elif content_type.startswith("application/json"):
            body = b"".join([chunk async for chunk in _limited(request, 1 << 20)])
            path_field = json.loads(body or b"{}").get("path")
    except _TooLarge:
        return _error(service, "upload", f"upload over {service.config.max_upload_mb:g} MB",
                      "too_large", 413)  # fmt: skip
    except (MultiPartException, ValueError, AttributeError) as exc:
        return _error(service, "request", f"malformed request ({exc})", "bad_request", 400)

    if isinstance(upload, UploadFile):
        name = upload.filename or "upload"
        temporary = await _upload_to_file(service, upload)
        clip = temporary
    elif isinstance(path_field, str) and path_field:
        name, clip = path_field, Path(path_field)
        if not service.config.allowed_dirs or not _allowed(clip, service.config.allowed_dirs):
            return _error(service, name, f"{name}: not under an allowed folder", "forbidden", 403)
    else:
        return _error(service, "request", "send the clip as multipart field 'file' or a 'path'",
                      "bad_request", 400)  # fmt: skip
    try:
        payload = await anyio.to_thread.run_sync(service.infer, clip, TIMELINE_VALUES[timeline])
    except (InputError, ClipTimeout, WorkerCrashed) as exc:
        reason = getattr(exc, "reason", "internal")
        message = _named(str(exc), clip, name)
        return _error(service, name, message, reason, STATUS.get(reason, 422))
    except ModelError as exc:
        return _error(service, name, str(exc), "model", 503)
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
            temporary.parent.rmdir()
    service.record(payload, "http")
    result = {**payload["json"], "file": name}
    result["notes"] = [_named(note, clip, name) for note in result.get("notes", [])]
    log.info("%s: %s (%.0f ms)", name, result["emotion"], payload["timings"]["end_to_end"] * 1e3)
    return JSONResponse(result)


async def healthz(request: Request) -> Response:
    service: Service = request.app.state.service
    if service.stopping:
        return JSONResponse({"status": "stopping"}, status_code=503)
    return JSONResponse({"status": "ok", "model": service.pool.model_info})


async def metrics_endpoint(request: Request) -> Response:
    service: Service = request.app.state.service
    return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")


class _CountRequests:
    """ASGI middleware: every response counted by endpoint and status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.inc("edgemood_requests_total", endpoint=scope["path"],
                                 status=str(message["status"]))  # fmt: skip
            await send(message)

        await self.app(scope, receive, counting_send)


def create_app(service: Service, token: str | None = None) -> Starlette:
    """The ASGI app; with ``token``, every endpoint but /healthz needs it (401 counted too)."""
    app = Starlette(
        routes=[
            Route("/v1/infer", infer_endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ]
    )
    app.state.service = service
    if token is not None:
        app.add_middleware(BearerAuth, token=token, metrics=service.metrics)
    app.add_middleware(_CountRequests, metrics=service.metrics)  # outermost: counts 401s too
    return app
