"""The watch folder of ``edgemood serve``: clips dropped in are processed exactly once.

Layout under the watched folder ``W``::

    W/clip.mp4           dropped here (by a copy, an upload, a camera)
    W/processing/        claimed by the service (a rename: atomic on one file system)
    W/done/ W/failed/    where every clip ends; a failed clip gets ``NAME.error.txt`` beside it
    results (W/results/, or the configured output folder): ``NAME.json``, the same JSON as
                         ``edgemood infer --json`` (an error object for a failed clip)

A clip is picked up only once its size and modification time have not changed for ``settle_s``
seconds, and never while its name is hidden (``.clip.mp4``) or ends in ``.part``, ``.tmp``,
``.partial`` or ``.crdownload``: writers that can, should write under such a name and rename
when done. The result is written (atomically, fsynced) before the clip is moved, and on start
every clip left in ``processing/`` by a crash or power cut goes back to the folder, so each clip
ends in done/ or failed/ exactly once, whatever moment the service was killed at.

Sidecars (``CLIP.txt``, the transcript; ``CLIP.srt``/``CLIP.vtt``, subtitles) are not clips:
they wait in the folder for the clip of the same stem, travel with it to processing/ (where they
are read) and are filed beside it in done/ or failed/. A ``NAME.txt`` that no other file of the
folder shares its stem with (not even a hidden or partial one being written) waits
``text_alone_s`` seconds more than a clip for its clip to arrive; then it is a text-only input of
its own (its content is the words): result ``NAME.txt.json``, filed in done/ or failed/.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edgemood.errors import EdgemoodError
from edgemood.prediction import error_json
from edgemood.service.prometheus import Metrics

log = logging.getLogger("edgemood.service.watch")
PARTIAL_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
SIDECAR_SUFFIXES = (".txt", ".srt", ".vtt")
TEXT_ALONE_S = 30.0
BACKOFF_S = 30.0  # after a failed result write (disk full): retry the clip later, not in a loop


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file, fsync, rename, fsync the folder: all or nothing on disk."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _alone(name: str, names: list[str]) -> bool:
    """Whether ``name`` (a visible ``NAME.txt``) is the only file of the folder with its stem:
    no clip, subtitles or hidden/partial file (``.NAME.mp4.part``) of that stem beside it."""
    if name.startswith("."):
        return False
    stem = name[: -len(".txt")] + "."
    return not any(other != name and other.lstrip(".").startswith(stem) for other in names)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class WatchFolder:
    def __init__(
        self,
        inbox: Path,
        results: Path,
        infer: Callable[[Path], dict],
        metrics: Metrics | None = None,
        settle_s: float = 2.0,
        poll_s: float = 1.0,
        text_alone_s: float = TEXT_ALONE_S,
    ) -> None:
        """
        Args:
            inbox: the watched folder.
            results: where NAME.json results go.
            infer: clip path -> ``{"json": ..., "timings": ...}``; raises EdgemoodError.
            metrics: counters to update.
            settle_s: how long a clip's size and mtime must stay unchanged.
            poll_s: seconds between scans.
            text_alone_s: how much longer than a clip a lone ``NAME.txt`` waits for its clip
                before it is a text-only input.
        """
        self.inbox = Path(inbox)
        self.processing = self.inbox / "processing"
        self.done = self.inbox / "done"
        self.failed = self.inbox / "failed"
        self.results = Path(results)
        self.infer = infer
        self.metrics = metrics
        self.settle_s = settle_s
        self.poll_s = poll_s
        self.text_alone_s = text_alone_s
        self._seen: dict[str, tuple[int, int, float]] = {}
        self._retry_after: dict[str, float] = {}
        for folder in (self.inbox, self.processing, self.done, self.failed, self.results):
            folder.mkdir(parents=True, exist_ok=True)

    def recover(self) -> int:
        """Return clips a previous run left in processing/ to the folder; how many. Also remove
        the temporary files of result writes it was killed in (``write_atomic``: hidden, in
        the service's own folders only; the result itself is written again with the clip)."""
        stale = [p for d in (self.done, self.failed, self.results) for p in d.glob(".*.tmp")]
        for path in stale:
            path.unlink(missing_ok=True)
        if stale:
            log.warning("removed %d unfinished result file(s) of an interrupted run", len(stale))
        count = 0
        for clip in sorted(self.processing.iterdir()):
            if clip.is_file():
                os.replace(clip, self._free_name(self.inbox, clip.name))
                count += 1
        if count:
            _fsync_dir(self.inbox)
            log.warning("requeued %d clip(s) left in processing/ by an interrupted run", count)
        return count

    def ready(self, now: float | None = None) -> list[Path]:
        """Clips whose size and mtime have been stable for settle_s (a lone ``NAME.txt``:
        settle_s + text_alone_s)."""
        now = time.monotonic() if now is None else now
        ready, present = [], set()
        entries = sorted(self.inbox.iterdir())
        names = [entry.name for entry in entries]
        for entry in entries:
            name = entry.name
            settle = self.settle_s
            if name.lower().endswith(".txt") and _alone(name, names):
                settle += self.text_alone_s
            elif name.startswith(".") or name.lower().endswith(PARTIAL_SUFFIXES + SIDECAR_SUFFIXES):
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            if not entry.is_file():
                continue
            present.add(name)
            if self._retry_after.get(name, 0.0) > now:
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(name)
            if seen is None or seen[:2] != key:
                self._seen[name] = (*key, now)
            elif now - seen[2] >= settle:
                ready.append(entry)
        self._seen = {k: v for k, v in self._seen.items() if k in present}
        return ready

    def _free_name(self, folder: Path, name: str) -> Path:
        """``folder/name``, or ``folder/stem.N.suffix`` when that name is taken: in the inbox by
        another clip, in done/ or failed/ by a clip filed there before (a name dropped twice).
        A result file alone does not take a name: it is what an interrupted run left behind
        for this very clip, and is rewritten."""
        folders = (self.inbox,) if folder == self.inbox else (self.done, self.failed)
        stem, suffix, n = Path(name).stem, Path(name).suffix, 1
        candidate = name
        while any((f / candidate).exists() for f in folders):
            candidate = f"{stem}.{n}{suffix}"
            n += 1
        return folder / candidate

    def process(self, clip: Path) -> str | None:
        """Claim, infer, write the result, file the clip. Returns 'done', 'failed' or None
        (not processed: it vanished, or its result could not be written and it waits)."""
        claimed = self.processing / clip.name
        try:
            os.rename(clip, claimed)
        except FileNotFoundError:
            return None
        original = clip.name
        sidecars = self._claim_sidecars(clip)
        try:
            payload = self.infer(claimed)
            outcome, reason = "done", None
            result = {**payload["json"], "file": original}
        except EdgemoodError as exc:
            outcome = "failed"
            reason = str(exc).replace(str(claimed), original)
            result = error_json(original, reason)
            self._count("edgemood_errors_total", reason=getattr(exc, "reason", "error"))
        final = self._free_name(self.done if outcome == "done" else self.failed, original)
        try:
            write_atomic(self.results / f"{final.name}.json", json.dumps(result) + "\n")
            if reason is not None:
                write_atomic(final.with_name(final.name + ".error.txt"), reason + "\n")
        except OSError as exc:
            # Disk full or read-only: say so, put the clip back, try again later.
            log.error("cannot write the result of %s: %s; clip requeued", original, exc)
            self._count("edgemood_errors_total", reason="output_write")
            back = self._free_name(self.inbox, original)
            os.replace(claimed, back)
            self._file_sidecars(sidecars, back)
            self._retry_after[original] = time.monotonic() + BACKOFF_S
            return None
        os.replace(claimed, final)
        self._file_sidecars(sidecars, final)
        _fsync_dir(final.parent)
        self._count("edgemood_clips_processed_total", source="watch", outcome=outcome)
        if self.metrics is not None and outcome == "done":
            for stage, seconds in payload.get("timings", {}).items():
                self.metrics.observe("edgemood_stage_seconds", seconds, stage=stage)
        if outcome == "done":
            log.info("%s: %s -> %s", original, result["emotion"], final)
        else:
            log.warning("%s: failed (%s) -> %s", original, reason, final)
        return outcome

    def _claim_sidecars(self, clip: Path) -> list[Path]:
        """Move the sidecars of ``clip`` (same stem, in the inbox) to processing/ with it."""
        claimed = []
        for suffix in SIDECAR_SUFFIXES:
            sidecar = clip.with_suffix(suffix)
            target = self.processing / sidecar.name
            try:
                os.rename(sidecar, target)
            except FileNotFoundError:
                continue
            claimed.append(target)
        return claimed

    def _file_sidecars(self, sidecars: list[Path], clip: Path) -> None:
        """Put claimed sidecars beside where ``clip`` went, named after it (``clip.1.mp4`` gets
        ``clip.1.txt``), so the pair stays a pair."""
        for sidecar in sidecars:
            target = clip.with_suffix(sidecar.suffix)
            if target.exists():  # a sidecar of another clip of that stem: keep both
                target = self._free_name(target.parent, target.name)
            os.replace(sidecar, target)

    def _count(self, name: str, **labels: str) -> None:
        if self.metrics is not None:
            self.metrics.inc(name, **labels)

    def run(self, stop: threading.Event) -> None:
        """Scan and process until ``stop`` is set; a clip in progress is finished first."""
        self.recover()
        log.info("watching %s (results in %s)", self.inbox, self.results)
        while not stop.is_set():
            try:
                for clip in self.ready():
                    if stop.is_set():
                        break
                    self.process(clip)
            except OSError as exc:  # the folder itself went away or turned read-only
                log.error("watch folder error: %s", exc)
                self._count("edgemood_errors_total", reason="watch_io")
                stop.wait(BACKOFF_S)
            except Exception:  # never let the thread die silently: log, count, go on
                log.exception("watch folder: unexpected error")
                self._count("edgemood_errors_total", reason="watch_internal")
                stop.wait(BACKOFF_S)
            stop.wait(self.poll_s)
