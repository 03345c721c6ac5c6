"""When the watch folder takes a clip (issue 19): only after its size and modification time have
held for settle_s, and never under a hidden or partial-download name. Driven with an explicit
clock, so each moment is exact."""

from __future__ import annotations

import os

import pytest

from edgemood.service.watch import WatchFolder

SETTLE = 2.0


def _never_called(path):
    raise AssertionError("ready() must not infer")


@pytest.fixture
def folder(tmp_path) -> WatchFolder:
    return WatchFolder(tmp_path / "in", tmp_path / "out", _never_called, settle_s=SETTLE)


def test_a_clip_is_ready_only_after_it_settles(folder):
    clip = folder.inbox / "clip.flac"
    clip.write_bytes(b"x" * 100)
    assert folder.ready(now=0.0) == []  # first seen
    assert folder.ready(now=SETTLE - 0.1) == []
    assert folder.ready(now=SETTLE) == [clip]
    with clip.open("ab") as handle:  # still being written: the clock starts again
        handle.write(b"y" * 100)
    assert folder.ready(now=SETTLE + 0.5) == []
    assert folder.ready(now=2 * SETTLE) == []
    assert folder.ready(now=2 * SETTLE + 0.5) == [clip]
    stat = clip.stat()  # same size, new modification time: not settled either
    os.utime(clip, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert folder.ready(now=2 * SETTLE + 1.0) == []
    assert folder.ready(now=3 * SETTLE + 1.0) == [clip]


@pytest.mark.parametrize("name", [".clip.mp4", "clip.mp4.part", "clip.mp4.tmp", "clip.PARTIAL",
                                  "clip.mp4.crdownload"])  # fmt: skip
def test_hidden_and_partial_names_are_never_taken(folder, name):
    (folder.inbox / name).write_bytes(b"x" * 100)
    for now in (0.0, SETTLE, 10 * SETTLE):
        assert folder.ready(now=now) == []


def test_folders_are_not_clips(folder):
    (folder.inbox / "sub.mp4").mkdir()
    for now in (0.0, 10 * SETTLE):
        assert folder.ready(now=now) == []
