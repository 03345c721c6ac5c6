"""Inference in worker processes, so one clip can neither hang nor crash the service.

Each worker is a child process holding a warm ``Recognizer``. A clip that runs past its time
limit, or that kills its worker (a native crash in a decoder), costs that worker only: it is
replaced (models reload in well under a second) and the caller gets ``ClipTimeout`` or
``WorkerCrashed``. Workers ignore SIGTERM/SIGINT: the service decides when they stop (after
in-flight clips), by closing their pipe.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgemood.errors import EdgemoodError, InputError, ModelError


class ClipTimeout(EdgemoodError):
    reason = "timeout"


class WorkerCrashed(EdgemoodError):
    reason = "worker_crashed"


@dataclass(frozen=True)
class RecognizerSettings:
    model: Path | None = None
    backend: str | None = None
    precision: str | None = None
    threads: int = 1
    text_encoder: Path | None = None


def _worker_main(conn, settings: RecognizerSettings) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from edgemood.pipeline import Recognizer

    try:
        recognizer = Recognizer(
            settings.model,
            settings.backend,
            settings.precision,
            settings.threads,
            settings.text_encoder,
        )
    except EdgemoodError as exc:
        conn.send(("model_error", str(exc)))
        return
    model = recognizer.model
    conn.send(
        (
            "ready",
            {
                "file": str(model.file),
                "backend": model.backend_name,
                "precision": model.precision,
            },
        )
    )
    while True:
        try:
            path, transcript, timeline = conn.recv()
        except (EOFError, OSError):
            return  # the service closed the pipe: stop
        try:
            if timeline:
                conn.send(("ok", _timeline(recognizer, path)))
                continue
            prediction = recognizer.predict(path, transcript)
            conn.send(
                ("ok", {"json": prediction.to_json(), "timings": prediction.timings,
                        "duration": prediction.duration, "notes": prediction.notes})
            )  # fmt: skip
        except InputError as exc:
            conn.send(("input_error", (str(exc), exc.reason)))
        except Exception as exc:  # anything else is reported, the worker lives on
            conn.send(("input_error", (f"{path}: {type(exc).__name__}: {exc}", "internal")))


def _timeline(recognizer, path: str) -> dict[str, Any]:
    """A whole recording, window by window (``edgemood infer --timeline --json``)."""
    run = recognizer.timeline(path)
    for _ in run:
        pass
    result = run.to_json()
    return {"json": result, "timings": run.timings, "duration": result["analysed_s"],
            "notes": result["notes"]}  # fmt: skip


class _Worker:
    def __init__(self, settings: RecognizerSettings) -> None:
        context = mp.get_context("spawn")  # no fork: the parent runs threads and an event loop
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, settings), daemon=True, name="edgemood-worker"
        )
        self.process.start()
        child.close()
        try:
            if not self.conn.poll(120):
                raise ModelError("inference worker did not start within 120 s")
            kind, payload = self.conn.recv()
        except EOFError as exc:
            raise ModelError("inference worker died while loading the models") from exc
        if kind == "model_error":
            self.process.join(5)
            raise ModelError(payload)
        self.model_info: dict[str, str] = payload

    def infer(
        self, path: str, transcript: str | None, timeout: float, timeline: bool = False
    ) -> dict[str, Any]:
        try:  # a worker killed from outside (OOM killer) shows up here as a broken pipe
            self.conn.send((path, transcript, timeline))
        except (OSError, EOFError) as exc:
            raise WorkerCrashed(f"{path}: the inference worker had died; replaced") from exc
        if not self.conn.poll(timeout):
            raise ClipTimeout(f"{path}: not finished within {timeout:g} s (clip time limit)")
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise WorkerCrashed(f"{path}: the inference worker crashed on this clip") from exc
        if kind == "ok":
            return payload
        message, reason = payload
        raise InputError(message, reason)

    def stop(self, kill: bool = False) -> None:
        if kill and self.process.is_alive():
            self.process.kill()
        self.conn.close()
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


class WorkerPool:
    """``size`` warm workers; ``infer`` blocks until one is free (call it from a thread)."""

    def __init__(self, settings: RecognizerSettings, size: int = 1) -> None:
        self.settings = settings
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._broken = ""
        for _ in range(size):
            self._add()
        self.model_info = self._all[0].model_info

    def _add(self) -> None:
        worker = _Worker(self.settings)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)

    def infer(
        self, path: str | Path, transcript: str | None, timeout: float, timeline: bool = False
    ) -> dict[str, Any]:
        """Prediction JSON, timings and notes for one clip (``timeline``: window by window,
        with ``segments`` and ``summary`` in the JSON).

        Raises:
            InputError: the clip is bad (its ``reason`` says how).
            ClipTimeout / WorkerCrashed: the worker was replaced.
        """
        worker = self._take()
        try:
            return worker.infer(str(path), transcript, timeout, timeline)
        except (ClipTimeout, WorkerCrashed):
            self._replace(worker)
            worker = None
            raise
        finally:
            if worker is not None:  # a bad clip leaves its worker healthy: back in the pool
                self._idle.put(worker)

    def _take(self) -> _Worker:
        while True:
            with self._lock:
                if not self._all:
                    raise ModelError(f"no inference worker: {self._broken or 'all stopped'}")
            try:
                return self._idle.get(timeout=1.0)
            except queue.Empty:
                continue

    def _replace(self, worker: _Worker) -> None:
        worker.stop(kill=True)
        with self._lock:
            self._all.remove(worker)
        try:
            self._add()
        except ModelError as exc:  # e.g. the model file vanished: report on the next call
            self._broken = str(exc)

    def close(self) -> None:
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()
