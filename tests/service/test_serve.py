"""`edgemood serve` for real: the server in a subprocess on a free loopback port, real clips over
HTTP, a watch folder, /metrics, SIGTERM; and the systemd unit checked by systemd-analyze."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ANGRY, HAPPY, SAD
from live_service import Server, systemd_analyze, wait_for

from edgemood.service.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # settle_s well above the slow writer's pause below, so a loaded CI machine cannot make the
    # half-written clip look finished.
    server = Server(tmp_path_factory.mktemp("serve"), max_upload_mb=0.06, settle_s=1.5)
    yield server
    if server.process.poll() is None:
        server.stop()


def _cli_json(clip: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "edgemood", "infer", "--json", str(clip)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_upload_gives_the_infer_json(server):
    status, reply = server.upload(HAPPY.name, HAPPY.read_bytes())
    assert status == 200
    assert reply == {**_cli_json(HAPPY), "file": HAPPY.name}


def test_path_under_an_allowed_folder(server, tmp_path):
    inside = server.allowed / SAD.name
    shutil.copy(SAD, inside)
    status, reply = server.post(json.dumps({"path": str(inside)}).encode(), "application/json")
    assert status == 200 and reply["emotion"] == _cli_json(SAD)["emotion"]
    outside = tmp_path / SAD.name
    shutil.copy(SAD, outside)
    status, reply = server.post(json.dumps({"path": str(outside)}).encode(), "application/json")
    assert status == 403 and "not under an allowed folder" in reply["error"]
    escape = str(server.allowed / ".." / "x.flac")
    assert server.post(json.dumps({"path": escape}).encode(), "application/json")[0] == 403
    missing = str(server.allowed / "missing.flac")
    status, reply = server.post(json.dumps({"path": missing}).encode(), "application/json")
    assert status == 404 and reply["error"].endswith("file not found")


def test_bad_requests_get_clear_status_codes(server):
    status, reply = server.upload("notes.mp4", b"this is text, not a video\n")
    assert status == 415 and reply["file"] == "notes.mp4" and "not a readable" in reply["error"]
    assert server.upload("empty.wav", b"")[0] == 415
    truncated = HAPPY.read_bytes()[:3000]  # decodes: its 0.1 s of audio is silent
    assert server.upload("cut.flac", truncated)[0] == 422
    status, reply = server.upload(ANGRY.name, ANGRY.read_bytes())  # 64.6 KB > 0.06 MB
    assert status == 413 and "upload over" in reply["error"]
    assert server.post(b"{}", "application/json")[0] == 400
    assert server.post(b"not json", "application/json")[0] == 400


def test_concurrent_clients_all_get_answers(server):
    data = HAPPY.read_bytes()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: server.upload(HAPPY.name, data), range(24)))
    assert [status for status, _ in replies] == [200] * 24
    assert len({json.dumps(reply, sort_keys=True) for _, reply in replies}) == 1


def test_metrics_count_what_happened(server):
    before = _metric(server, 'edgemood_requests_total{endpoint="/v1/infer",status="415"}')
    server.upload("bad.mp4", b"\x00" * 100)
    text = server.get("/metrics")[1]
    assert _metric(server, 'edgemood_requests_total{endpoint="/v1/infer",status="415"}') == (
        before + 1
    )
    assert 'edgemood_errors_total{reason="not_media"}' in text
    assert 'edgemood_stage_seconds_bucket{stage="audio_features",le="+Inf"}' in text
    assert 'edgemood_model_info{backend="onnx"' in text
    assert _metric(server, 'edgemood_clips_processed_total{outcome="done",source="http"}') >= 1


def _metric(server, key: str) -> float:
    for line in server.get("/metrics")[1].splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def test_watch_folder_files_every_clip_once(server):
    watch = server.watch
    shutil.copy(ANGRY, watch / ANGRY.name)
    (watch / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    # A clip written slowly: half now, the rest after more than one poll but less than settle_s.
    data = SAD.read_bytes()
    slow = watch / "slow.flac"
    with slow.open("wb") as handle:
        handle.write(data[: len(data) // 2])
        handle.flush()
        time.sleep(0.4)
        handle.write(data[len(data) // 2 :])
    # The rename convention: never read while it ends in .part.
    part = watch / "renamed.flac.part"
    shutil.copy(HAPPY, part)
    time.sleep(1.2)
    assert part.exists()  # untouched
    part.rename(watch / "renamed.flac")
    wait_for(lambda: len(list((watch / "done").glob("*.flac"))) == 3)
    wait_for(lambda: (watch / "failed" / "corrupt.mp4").exists())
    results = {p.name: json.loads(p.read_text()) for p in (watch / "results").glob("*.json")}
    assert results["slow.flac.json"]["emotion"] == _cli_json(SAD)["emotion"]
    assert results["renamed.flac.json"]["file"] == "renamed.flac"
    assert "not a readable" in results["corrupt.mp4.json"]["error"]
    assert (watch / "failed" / "corrupt.mp4.error.txt").read_text().startswith("corrupt.mp4:")
    assert list((watch / "processing").iterdir()) == []
    assert sorted(p.name for p in watch.iterdir() if p.is_file()) == []


def test_config_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('port = "eighty"\n')
    with pytest.raises(ConfigError, match="port must be int"):
        load_config(bad)
    bad.write_text("prot = 80\n")
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(bad)
    good = tmp_path / "good.toml"
    good.write_text('port = 9000\nwatch = "/srv/in"\n')
    config = load_config(good, {"port": 9100, "host": None})
    assert (config.port, config.host, str(config.results_dir)) == (
        9100,
        "127.0.0.1",
        "/srv/in/results",
    )
    done = subprocess.run(
        [sys.executable, "-m", "edgemood", "serve", "--config", str(bad)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "edgemood: config: unknown setting(s): prot"


def test_sigterm_finishes_in_flight_work(tmp_path):
    server = Server(tmp_path)
    status, _ = server.upload(HAPPY.name, HAPPY.read_bytes())
    assert status == 200
    for i in range(3):
        shutil.copy(ANGRY, server.watch / f"clip{i}.flac")
    wait_for(lambda: any((server.watch / "processing").iterdir())
              or len(list((server.watch / "done").iterdir())) > 0)  # fmt: skip
    assert server.stop(signal.SIGTERM) == 0
    log = server.log.read_text()
    assert "stopping: finishing in-flight clips" in log and "stopped" in log
    assert "Traceback" not in log
    assert list((server.watch / "processing").iterdir()) == []  # nothing half-done
    for name in (p.name for p in (server.watch / "done").iterdir()):
        assert (server.watch / "results" / f"{name}.json").exists()


def test_systemd_unit_verifies(tmp_path):
    tool = systemd_analyze()
    unit = (REPO / "deploy" / "edgemood.service").read_text()
    # verify checks that ExecStart exists: point it at this environment's edgemood.
    executable = Path(sys.executable).with_name("edgemood")
    unit = unit.replace("/opt/edgemood/venv/bin/edgemood", str(executable))
    (tmp_path / "edgemood.service").write_text(unit)
    done = subprocess.run(
        [tool, "verify", str(tmp_path / "edgemood.service")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Type=notify" in unit and "WatchdogSec=" in unit and "ProtectSystem=strict" in unit


def test_install_script_is_valid_bash():
    done = subprocess.run(["bash", "-n", str(REPO / "deploy" / "install.sh")], capture_output=True)
    assert done.returncode == 0, done.stderr


def test_clip_time_limit_gives_504_and_a_fresh_worker(tmp_path):
    server = Server(tmp_path, clip_timeout_s=0.001)  # every clip is "too slow"
    try:
        status, reply = server.upload(HAPPY.name, HAPPY.read_bytes())
        assert status == 504 and "clip time limit" in reply["error"]
        # The stuck worker was replaced, not leaked: the service still answers.
        assert server.get("/healthz")[0] == 200
        assert server.upload(HAPPY.name, HAPPY.read_bytes())[0] == 504
        assert 'edgemood_errors_total{reason="timeout"} 2' in server.get("/metrics")[1]
        children = subprocess.run(
            ["pgrep", "-P", str(server.process.pid), "-f", "spawn_main"],
            capture_output=True,
            text=True,
        ).stdout.split()
        assert len(children) == 1  # one live worker: the killed ones are gone
    finally:
        assert server.stop() == 0
    time.sleep(0.5)
    for pid in children:  # and no worker outlives the service
        assert not Path(f"/proc/{pid}").exists()


def test_systemd_notify_protocol(tmp_path):
    """READY=1 once serving, WATCHDOG=1 pings when WatchdogSec asks, STOPPING=1 on SIGTERM."""
    address = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(30)
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}  # ping every 0.2 s
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        server = Server(tmp_path)
        os.environ["WATCHDOG_PID"] = str(server.process.pid)  # (only read at start: harmless)
        messages = []
        while sum("WATCHDOG=1" in m for m in messages) < 2:
            messages.append(sock.recv(4096).decode())
        assert messages[0].startswith("READY=1")
        assert server.stop() == 0
        sock.settimeout(2)
        with contextlib.suppress(TimeoutError):
            while True:
                messages.append(sock.recv(4096).decode())
        assert "STOPPING=1" in messages
    finally:
        sock.close()
        for key, value in {**saved, "WATCHDOG_PID": None}.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_a_worker_killed_from_outside_is_replaced(tmp_path):
    """The OOM killer takes the inference worker: that request fails with 500, the next works."""
    server = Server(tmp_path)
    try:
        (worker,) = subprocess.run(
            ["pgrep", "-P", str(server.process.pid), "-f", "spawn_main"],
            capture_output=True,
            text=True,
        ).stdout.split()
        os.kill(int(worker), signal.SIGKILL)
        time.sleep(0.2)
        status, reply = server.upload(HAPPY.name, HAPPY.read_bytes())
        assert status == 500 and "worker" in reply["error"]
        assert server.upload(HAPPY.name, HAPPY.read_bytes())[0] == 200
    finally:
        assert server.stop() == 0
