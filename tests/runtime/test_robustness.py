"""Bad input and faults (issue 7): a generated corpus of malformed inputs through the real CLI,
a fuzz target for decoding + features, and the service under kill -9, a full disk and load."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import threading
import time

import pytest
from conftest import ANGRY, HAPPY, SAD
from corpus import build
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from live_service import DROP_DAC, Server, filed, wait_for

from edgemood.cli.measure import measured_infer
from edgemood.errors import InputError
from edgemood.features import FeatureExtractor

CORPUS_MEMORY_LIMIT_MB = 300  # issue 5's RSS target, for every input including 10-minute clips


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    cases = build(tmp_path_factory.mktemp("corpus"), long_minutes=10)
    yield cases
    for case in cases:  # let pytest clean the mode-000 file up
        if case.path.exists() and not case.path.is_dir():
            os.chmod(case.path, 0o644)


def test_every_bad_input_gets_a_clean_outcome(corpus, av_model):
    """Each input: within 60 s, exit 0 with a prediction (missing modalities reported) or exit 2
    with exactly one stderr line naming the file; never a traceback; memory bounded."""
    report = []
    for case in corpus:
        prefix = DROP_DAC if "unreadable" in case.name else []
        clock = time.monotonic()
        done, peak_kib = measured_infer(
            ["infer", "--json", "-m", str(av_model), str(case.path)], timeout=60, prefix=prefix
        )
        seconds = time.monotonic() - clock
        report.append((case.name, done.returncode, round(seconds, 2), peak_kib))
        assert "Traceback" not in done.stderr, case.name
        assert peak_kib is not None and peak_kib / 1024 < CORPUS_MEMORY_LIMIT_MB, (case, peak_kib)
        (line,) = [json.loads(x) for x in done.stdout.splitlines()]
        assert line["file"] == str(case.path), case.name
        if done.returncode == 0:
            assert case.expect in ("predict", "either"), (case.name, line)
            assert done.stderr == "", case.name
            if case.modalities:
                assert line["modalities"] == case.modalities, case.name
        else:
            assert case.expect in ("error", "either"), (case.name, done.stderr)
            assert done.returncode == 2, case.name
            (message,) = done.stderr.splitlines()
            assert message.startswith(f"edgemood: {case.path}: "), case.name
            assert case.message in message, (case.name, message)
            assert line["error"] == message.removeprefix(f"edgemood: {case.path}: ")
    print("\n".join(map(str, report)))


def test_huge_frames_fall_back_to_audio(corpus, av_model):
    (huge,) = [c for c in corpus if c.name == "4096x4096 frames"]
    done, _ = measured_infer(["infer", "-m", str(av_model), str(huge.path)], timeout=60)
    assert done.returncode == 0
    assert "video frames 4096x4096 exceed the 4096x2160 limit: face not used" in done.stdout


def _mutate(data: bytes, cuts: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, value in cuts:
        if not out:
            break
        position %= len(out)
        if kind == 0:
            out[position] = value
        elif kind == 1:
            del out[position : position + value * 16]
        elif kind == 2:
            out[position:position] = bytes([value]) * 32
        else:
            del out[position:]
    return bytes(out)


@settings(
    max_examples=int(os.environ.get("EDGEMOOD_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    source=st.sampled_from(["flac", "mp4"]),
    cuts=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
)
def test_fuzz_decoding_and_features(tmp_path, face_clip, source, cuts):
    """Mutated real media (byte flips, deletions, insertions, truncation): decoding and every
    feature stage either give features or raise InputError; nothing else escapes."""
    original = (HAPPY if source == "flac" else face_clip).read_bytes()
    path = tmp_path / f"fuzz.{source}"
    path.write_bytes(_mutate(original, cuts))
    try:
        inputs = FeatureExtractor()(path).inputs
    except InputError as exc:
        assert str(exc).startswith(str(path))
        return
    assert inputs.audio is None or inputs.audio.shape[1] == 74
    assert inputs.visual is None or inputs.visual.shape[1] == 35
    for array in (inputs.audio, inputs.visual):
        assert array is None or bool((abs(array) < 1e6).all())


@pytest.mark.soak
def test_kill_9_never_loses_a_clip(tmp_path):
    """Clips dropped into the watch folder while the service is killed -9 at random moments and
    restarted: every clip ends in done/ or failed/ exactly once, with its result."""
    server = Server(tmp_path, settle_s=0.2)
    rng = random.Random(7)
    dropped, kills_mid_clip = [], 0
    sources = [ANGRY, HAPPY, SAD]
    try:
        for cycle in range(8):
            for i in range(3):
                name = f"c{cycle}_{i}.flac" if (cycle + i) % 4 else f"c{cycle}_{i}_bad.mp4"
                target = server.watch / name
                if name.endswith("_bad.mp4"):
                    target.write_bytes(b"\x00" * 2000)
                else:
                    shutil.copy(sources[i], target)
                dropped.append(name)
            time.sleep(rng.uniform(0.25, 0.6))
            if any((server.watch / "processing").iterdir()):
                kills_mid_clip += 1
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            server.start()
        try:
            wait_for(lambda: len(filed(server.watch)) >= len(dropped), timeout=60)
        except AssertionError:
            state = {d: sorted(p.name for p in (server.watch / d).iterdir())
                     for d in (".", "processing", "done", "failed")}  # fmt: skip
            log = server.log.read_text()[-4000:]
            raise AssertionError(f"not all filed: {state}\n{log}") from None
    finally:
        if server.process.poll() is None:
            server.stop()
    names = filed(server.watch)
    assert sorted(names) == sorted(dropped)  # each exactly once, none renamed, none lost
    for name in names:
        result = json.loads((server.watch / "results" / f"{name}.json").read_text())
        assert result["file"] == name and ("error" in result) == name.endswith("_bad.mp4")
    assert list((server.watch / "processing").iterdir()) == []
    print(f"{len(dropped)} clips, 8 kill -9 cycles, {kills_mid_clip} with a clip in processing/")


def test_full_output_disk_is_an_error_not_silence(tmp_path):
    """Writes over a tiny file-size limit fail like a full disk (EFBIG instead of ENOSPC): the
    service logs an error, counts it, and keeps the clip for a later retry."""
    server = Server(tmp_path, start=False, settle_s=0.2)

    # The log goes through a pipe: a pipe has no file size, so the log itself keeps working.
    server.start(
        prelude="import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (64, 64))",
        stdout=subprocess.PIPE,
    )  # a result JSON is ~300 bytes
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(line.decode() for line in server.process.stdout), daemon=True
    )
    reader.start()
    try:
        shutil.copy(ANGRY, server.watch / ANGRY.name)
        wait_for(lambda: any("cannot write the result" in line for line in lines), timeout=30)
        assert 'edgemood_errors_total{reason="output_write"}' in server.get("/metrics")[1]
        assert (server.watch / ANGRY.name).exists()  # back in the folder, not lost
        assert list((server.watch / "done").iterdir()) == []
        assert server.process.poll() is None  # and the service is still up
    finally:
        server.stop()


@pytest.mark.soak
def test_memory_does_not_grow_under_concurrent_load(tmp_path):
    import concurrent.futures

    server = Server(tmp_path)
    data = HAPPY.read_bytes()
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            warm = list(pool.map(lambda _: server.upload(HAPPY.name, data)[0], range(40)))
            before = server.rss_kib()
            statuses = list(pool.map(lambda _: server.upload(HAPPY.name, data)[0], range(200)))
            after = server.rss_kib()
    finally:
        assert server.stop() == 0
    assert set(warm) == set(statuses) == {200}
    growth_mb = (after - before) / 1024
    print(f"RSS {before / 1024:.1f} MB -> {after / 1024:.1f} MB over 200 requests")
    assert growth_mb < 20
