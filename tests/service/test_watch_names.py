"""The watch folder's exactly-once filing when one name is dropped more than once (issue 19):
twice, thrice, while the first copy is still being processed, and across a restart. Every copy
must be filed once, under a name of its own, with its own result; none may overwrite another.

The WatchFolder is driven directly with the real Recognizer (bundled model) so that the moment of
each drop is exact; the last test does the same through a real ``edgemood serve`` subprocess.
Each copy is a different clip, so a copy that overwrote another would show in the bytes filed and
in the emotions of the results (the bundled model's labels for these clips are pinned in
tests/runtime/test_bundled_predictions.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ANGRY, HAPPY, SAD
from live_service import Server, filed, wait_for

from edgemood.pipeline import Recognizer
from edgemood.service.watch import WatchFolder

NAME = "same.flac"
# The copies in the order they are dropped, and the names they must be filed under.
COPIES = [(ANGRY, "angry", "same.flac"), (HAPPY, "happy", "same.1.flac"),
          (SAD, "sad", "same.2.flac")]  # fmt: skip


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    return Recognizer()


def _infer(recognizer: Recognizer, before=None):
    def infer(path: Path) -> dict:
        if before is not None:
            before(path)
        return {"json": recognizer.predict(path).to_json(), "timings": {}}

    return infer


def _drain(folder: WatchFolder) -> list[str | None]:
    """Process every clip in the inbox, as the service's loop would (settle time skipped by
    reading the folder twice, settle_s apart on the clock it is given)."""
    folder.ready(now=0.0)
    return [folder.process(clip) for clip in folder.ready(now=folder.settle_s + 1)]


def _check_filed(inbox: Path, results: Path, copies=COPIES) -> None:
    assert sorted(filed(inbox)) == sorted(name for _, _, name in copies)
    for source, emotion, name in copies:
        assert (inbox / "done" / name).read_bytes() == source.read_bytes(), name
        result = json.loads((results / f"{name}.json").read_text())
        assert result["file"] == NAME and result["emotion"] == emotion, (name, result)
    assert sorted(p.name for p in results.iterdir()) == sorted(f"{n}.json" for *_, n in copies)
    assert not any(p.is_file() for p in inbox.iterdir())
    assert list((inbox / "processing").iterdir()) == []


def test_same_name_dropped_three_times(tmp_path, recognizer):
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    folder = WatchFolder(inbox, results, _infer(recognizer), settle_s=0.5)
    for source, _, _ in COPIES:
        shutil.copy(source, inbox / NAME)
        assert _drain(folder) == ["done"]
    _check_filed(inbox, results)


def test_same_name_dropped_while_the_first_is_processing(tmp_path, recognizer):
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    dropped = []

    def drop_next(path: Path) -> None:
        # The first copy is now in processing/: its name is free in the inbox again.
        if len(dropped) < len(COPIES) - 1:
            source = COPIES[len(dropped) + 1][0]
            dropped.append(source)
            shutil.copy(source, inbox / NAME)

    folder = WatchFolder(inbox, results, _infer(recognizer, drop_next), settle_s=0.5)
    shutil.copy(ANGRY, inbox / NAME)
    for _ in COPIES:
        assert _drain(folder) == ["done"]
    assert len(dropped) == 2
    _check_filed(inbox, results)


def test_same_name_after_a_restart_and_a_crash(tmp_path, recognizer):
    """A restart (a new WatchFolder on the same folders) still sees the names filed before, and
    a copy left in processing/ by a crash does not collide with a new copy of the same name."""
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    first = WatchFolder(inbox, results, _infer(recognizer), settle_s=0.5)
    shutil.copy(ANGRY, inbox / NAME)
    assert _drain(first) == ["done"]
    # A crash mid-clip: the second copy was claimed, its result never written.
    shutil.copy(HAPPY, inbox / "processing" / NAME)
    # While the service was down, a third copy arrived under the same name.
    shutil.copy(SAD, inbox / NAME)
    restarted = WatchFolder(inbox, results, _infer(recognizer), settle_s=0.5)
    assert restarted.recover() == 1
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["same.1.flac", NAME]
    assert _drain(restarted) == ["done", "done"]
    # Sorted processing order: same.1.flac (the requeued happy copy) first, then same.flac.
    copies = [(ANGRY, "angry", "same.flac"), (HAPPY, "happy", "same.1.flac"),
              (SAD, "sad", "same.2.flac")]  # fmt: skip
    assert sorted(filed(inbox)) == sorted(n for *_, n in copies)
    for source, emotion, name in copies:
        result = json.loads((results / f"{name}.json").read_text())
        assert result["emotion"] == emotion, (name, result)
        assert (inbox / "done" / name).read_bytes() == source.read_bytes(), name


def test_a_restart_removes_result_writes_a_kill_left_half_done(tmp_path):
    """kill -9 inside ``write_atomic`` leaves its hidden temporary file (seen in the kill -9 soak
    test: ``.c3_1_bad.mp4.error.txt.f4ol2ys5.tmp`` in failed/). The clip is still in processing/
    then, so it runs again; the orphan goes. A user's hidden partial upload in the inbox stays."""
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    first = WatchFolder(inbox, results, lambda path: {}, settle_s=0.5)
    orphans = [first.failed / ".a.mp4.error.txt.f4ol2ys5.tmp", results / ".a.mp4.json.x1y2.tmp"]
    for path in [*orphans, inbox / ".upload.mp4.tmp", first.done / "b.flac"]:
        path.write_text("partial")
    restarted = WatchFolder(inbox, results, lambda path: {}, settle_s=0.5)
    restarted.recover()
    assert not any(path.exists() for path in orphans)
    assert (inbox / ".upload.mp4.tmp").exists() and (first.done / "b.flac").exists()


def test_failed_and_done_copies_of_one_name_do_not_collide(tmp_path, recognizer):
    inbox, results = tmp_path / "inbox", tmp_path / "results"
    folder = WatchFolder(inbox, results, _infer(recognizer), settle_s=0.5)
    (inbox / NAME).write_bytes(b"not audio at all\n")
    assert _drain(folder) == ["failed"]
    shutil.copy(HAPPY, inbox / NAME)
    assert _drain(folder) == ["done"]
    assert (inbox / "failed" / NAME).read_bytes() == b"not audio at all\n"
    assert (inbox / "done" / "same.1.flac").read_bytes() == HAPPY.read_bytes()
    assert "error" in json.loads((results / f"{NAME}.json").read_text())
    assert json.loads((results / "same.1.flac.json").read_text())["emotion"] == "happy"


def test_service_files_one_name_dropped_twice_and_after_a_restart(tmp_path):
    """The real ``edgemood serve``: a name dropped, dropped again, then again after a restart."""
    server = Server(tmp_path)
    watch = server.watch
    try:
        for count, (source, _, _) in enumerate(COPIES[:2], 1):
            shutil.copy(source, watch / NAME)
            wait_for(lambda n=count: len(filed(watch)) == n)
    finally:
        assert server.stop() == 0
    server.start()
    try:
        shutil.copy(SAD, watch / NAME)
        wait_for(lambda: len(filed(watch)) == 3)
    finally:
        assert server.stop() == 0
    wait_for(lambda: len(list((watch / "results").glob("*.json"))) == 3)
    _check_filed(watch, watch / "results")
