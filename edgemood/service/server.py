"""``edgemood serve``: warm models behind a local HTTP API and an optional watch folder, run as a
systemd ``Type=notify`` service.

Start: load the models in worker processes (a model that cannot load ends the service with one
line, exit 3), bind the HTTP port, requeue clips an interrupted run left half-done, then tell
systemd READY=1. Keep-alive: WATCHDOG=1 from the event loop, so a wedged loop is restarted by
systemd. Stop (SIGTERM/SIGINT): refuse new requests (503), let in-flight requests and the clip
the watch folder is on finish, then stop the workers.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
import threading

from edgemood.service.auth import resolve_token
from edgemood.service.config import ServiceConfig
from edgemood.service.http_api import Service, create_app
from edgemood.service.prometheus import service_metrics
from edgemood.service.sdnotify import notify, watchdog_interval
from edgemood.service.watch import WatchFolder
from edgemood.service.worker import RecognizerSettings, WorkerPool

log = logging.getLogger("edgemood")
# syslog priorities journald reads from a "<N>" line prefix (SyslogLevelPrefix=, on by default)
_PRIORITY = {"DEBUG": 7, "INFO": 6, "WARNING": 4, "ERROR": 3, "CRITICAL": 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"<{_PRIORITY.get(record.levelname, 6)}>{super().format(record)}"


def setup_logging(level: str) -> None:
    """One line per event on stderr; under systemd (JOURNAL_STREAM set) with a priority prefix
    and no timestamp (journald adds its own), else with time and level."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger("edgemood")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


async def _watchdog(interval: float) -> None:
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(interval)


def run(config: ServiceConfig) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    import uvicorn

    setup_logging(config.log_level)
    token = resolve_token(config)  # before the models load: an open port without one fails fast
    metrics = service_metrics()
    settings = RecognizerSettings(
        config.model, config.backend, config.precision, config.threads, config.text_encoder
    )
    pool = WorkerPool(settings, config.workers)  # ModelError propagates: one line, exit 3
    metrics.set("edgemood_model_info", 1.0, **pool.model_info)
    service = Service(config, pool, metrics)
    stop = threading.Event()
    watcher = None
    if config.watch is not None:
        folder = WatchFolder(
            config.watch,
            config.results_dir,
            functools.partial(service.infer, timeline=config.watch_timeline),
            metrics,
            config.settle_s,
            config.poll_interval_s,
            config.text_alone_s,
        )
        folder.recover()
        watcher = threading.Thread(target=folder.run, args=(stop,), name="watch", daemon=True)

    server = uvicorn.Server(
        uvicorn.Config(
            create_app(service, token),
            host=config.host,
            port=config.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=max(30, int(config.clip_timeout_s) + 5),
        )
    )

    async def main() -> None:
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                return  # bind failed: uvicorn logged why
            await asyncio.sleep(0.05)
        if watcher is not None:
            watcher.start()
        tasks = []
        interval = watchdog_interval()
        if interval:
            tasks.append(asyncio.create_task(_watchdog(interval)))
        notify(f"READY=1\nSTATUS=serving on {config.host}:{config.port}")
        log.info("serving on http://%s:%d (model %s)", config.host, config.port,
                 pool.model_info["file"])  # fmt: skip
        await serving
        for task in tasks:
            task.cancel()

    original_exit = server.handle_exit

    def handle_exit(sig, frame) -> None:  # uvicorn's SIGTERM/SIGINT handler
        service.stopping = True
        stop.set()
        notify("STOPPING=1")
        log.info("stopping: finishing in-flight clips")
        original_exit(sig, frame)

    server.handle_exit = handle_exit
    # uvicorn restores the handlers it found and re-raises the signal after its shutdown; with
    # the default SIGTERM action that would kill this process before the watch folder's clip
    # and the workers are finished. Handlers that only ask to stop make that re-raise harmless.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        asyncio.run(main())
    finally:
        stop.set()
        if watcher is not None and watcher.is_alive():
            watcher.join(config.clip_timeout_s + 10)
        pool.close()
        log.info("stopped")
    return 0 if server.started else 1
