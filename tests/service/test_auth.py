"""Bearer-token authentication of `edgemood serve`: a real server in a subprocess with a token,
every endpoint without, with a wrong and with the right token; refusal to open the port without
one; the token file's permissions; and the token never in the log or a reply."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HAPPY
from live_service import Server

from edgemood.service.auth import is_loopback, read_token
from edgemood.service.config import ConfigError


def _serve(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgemood", "serve", *args],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def token_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "api-token"
    done = _serve("--make-token", str(path))
    assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory, token_file):
    server = Server(tmp_path_factory.mktemp("serve-auth"), api_token_file=str(token_file))
    yield server
    if server.process.poll() is None:
        server.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _requests(server: Server, headers: dict[str, str] | None):
    """(endpoint, status, body) of one request to every endpoint, and to an unknown path."""
    inside = server.allowed / HAPPY.name
    shutil.copy(HAPPY, inside)
    path_body = json.dumps({"path": str(inside)}).encode()
    upload = server.upload(HAPPY.name, HAPPY.read_bytes(), headers)
    by_path = server.post(path_body, "application/json", headers)
    return [
        ("upload", upload[0], json.dumps(upload[1])),
        ("path", by_path[0], json.dumps(by_path[1])),
        ("metrics", *server.get("/metrics", headers)),
        ("unknown", *server.get("/v2/nothing", headers)),
    ]


def _www_authenticate(server: Server, headers: dict[str, str]) -> str:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(server.url("/metrics"), headers=headers)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 401
    return caught.value.headers.get("WWW-Authenticate", "")


def test_make_token_writes_a_private_random_token(token_file, tmp_path):
    assert (token_file.stat().st_mode & 0o777) == 0o600
    token = read_token(token_file)
    assert len(token) >= 40  # 32 random bytes, base64
    other = tmp_path / "second"
    assert _serve("--make-token", str(other)).returncode == 0
    assert read_token(other) != token
    again = _serve("--make-token", str(other))  # never overwrites
    assert again.returncode == 2 and "already exists" in again.stderr
    assert read_token(other) not in again.stderr + again.stdout


def test_every_endpoint_needs_the_token(server, token_file):
    token = read_token(token_file)
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")  # one character off
    before = _metric(server, token, 'edgemood_auth_failures_total{reason="wrong"}')
    for headers in (None, _bearer(wrong), {"Authorization": f"Basic {token}"}):
        replies = _requests(server, headers)
        assert [status for _, status, _ in replies] == [401] * 4, (headers, replies)
    ok = _requests(server, _bearer(token))
    assert [(name, status) for name, status, _ in ok] == [
        ("upload", 200), ("path", 200), ("metrics", 200), ("unknown", 404)
    ]  # fmt: skip
    assert json.loads(ok[0][2])["file"] == HAPPY.name
    assert server.get("/healthz")[0] == 200  # liveness probes need no secret
    assert 'realm="edgemood"' in _www_authenticate(server, {})
    assert 'error="invalid_token"' in _www_authenticate(server, _bearer(wrong))
    # Failures are counted (the wrong token: 4 requests above and 1 for WWW-Authenticate).
    assert _metric(server, token, 'edgemood_auth_failures_total{reason="wrong"}') == before + 5
    assert _metric(server, token, 'edgemood_requests_total{endpoint="/metrics",status="401"}') >= 4
    assert [status for _, status, _ in _requests(server, _bearer(""))] == [401] * 4


def _metric(server: Server, token: str, key: str) -> float:
    for line in server.get("/metrics", _bearer(token))[1].splitlines():
        if line.startswith(key + " "):
            return float(line.split()[-1])
    return 0.0


def test_the_token_never_appears_in_logs_or_replies(server, token_file):
    token = read_token(token_file)
    wrong = "x" * 20 + token[20:]
    replies = _requests(server, _bearer(wrong)) + _requests(server, _bearer(token))
    server.upload("notes.mp4", b"not a video", _bearer(token))  # an error reply and log line
    for _, _, body in replies:
        assert token not in body and wrong not in body
    log = server.log.read_text()
    assert "401 POST /v1/infer from 127.0.0.1: wrong bearer token" in log
    assert "token authentication on" in log
    assert token not in log and wrong not in log and token[:12] not in log


def test_an_open_port_without_a_token_refuses_to_start(tmp_path):
    for host in ("0.0.0.0", "::", "192.0.2.1", "camera.local"):
        done = _serve("--host", host, "--port", "1")
        assert done.returncode == 2, (host, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "refusing to serve" in lines[0]
        assert "--make-token" in lines[0] and "--insecure-no-auth" in lines[0]


def test_insecure_no_auth_opens_it_and_says_so_at_start(tmp_path):
    server = Server(tmp_path, host="0.0.0.0", insecure_no_auth=True)
    try:
        assert server.get("/metrics")[0] == 200
    finally:
        assert server.stop() == 0
    assert "authentication OFF on 0.0.0.0" in server.log.read_text()


def test_loopback_without_a_token_stays_open_and_says_so(tmp_path):
    server = Server(tmp_path)
    try:
        assert server.get("/metrics")[0] == 200
        assert server.upload(HAPPY.name, HAPPY.read_bytes())[0] == 200
    finally:
        assert server.stop() == 0
    assert "authentication off: serving on loopback" in server.log.read_text()


def test_token_file_permissions_and_content_are_checked(tmp_path):
    path = tmp_path / "token"
    path.write_text("s3cret-" * 5 + "\n")
    for mode in (0o640, 0o604, 0o620):
        os.chmod(path, mode)
        with pytest.raises(ConfigError, match="chmod 600"):
            read_token(path)
    os.chmod(path, 0o600)
    assert read_token(path) == "s3cret-" * 5
    path.write_text("short\n")
    with pytest.raises(ConfigError, match="at least 16"):
        read_token(path)
    with pytest.raises(ConfigError, match="file not found"):
        read_token(tmp_path / "missing")
    # The service refuses to start with a group-readable token, in one line, before loading.
    path.write_text("s3cret-" * 5 + "\n")
    os.chmod(path, 0o644)
    done = _serve("--token-file", str(path), "--port", "1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"edgemood: api_token_file: {path} is accessible to group or others (mode 0644); "
        f"run: chmod 600 {path}"
    ]
    assert "s3cret" not in done.stderr


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.8.9.1", "::1", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.2", "fe80::1", "example.org"]))


def test_the_command_line_flags_reach_the_service(tmp_path, token_file):
    """--insecure-no-auth and --token-file pass the start-up check (then the missing model stops
    it: exit 3), and say so on stderr."""
    missing = str(tmp_path / "no-model")
    opened = _serve("--host", "0.0.0.0", "--port", "1", "--insecure-no-auth", "--model", missing)
    assert opened.returncode == 3 and "authentication OFF on 0.0.0.0:1" in opened.stderr
    tokened = _serve("--host", "0.0.0.0", "--port", "1", "--token-file", str(token_file),
                     "--model", missing)  # fmt: skip
    assert tokened.returncode == 3 and "token authentication on" in tokened.stderr
    assert read_token(token_file) not in tokened.stderr
