"""A real `edgemood serve` in a subprocess, on a free loopback port, for the service tests."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

# Root reads mode-000 files anyway; without the DAC capabilities it is refused like anyone.
DROP_DAC = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    if os.geteuid() == 0 and shutil.which("setpriv")
    else []
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, start: bool = True, **settings) -> None:
        self.port = _free_port()
        self.watch = tmp / "inbox"
        self.allowed = tmp / "allowed"
        self.allowed.mkdir(parents=True, exist_ok=True)
        config = {
            "port": self.port,
            "watch": str(self.watch),
            "allowed_dirs": [str(self.allowed)],
            "settle_s": 0.6,
            "poll_interval_s": 0.1,
            "clip_timeout_s": 30.0,
            **settings,
        }
        self.config = tmp / f"config-{self.port}.toml"
        self.config.write_text(
            "\n".join(f"{k} = {json.dumps(v)}" for k, v in config.items()) + "\n"
        )
        self.log = tmp / f"serve-{self.port}.log"
        self.headers: dict[str, str] = {}  # sent with every request (e.g. the bearer token)
        if start:
            self.start()

    def start(self, prelude: str = "", prefix: list[str] | tuple = (), **popen) -> None:
        """Start the server; ``prelude``: Python run first in the server process (instead of a
        preexec_fn, which forks a possibly multithreaded test process); ``prefix``: a command
        the server runs under (setpriv, to drop root's file-permission override)."""
        popen.setdefault("stdout", self.log.open("ab"))
        script = f"{prelude}\nimport sys\nfrom edgemood.cli import main\nmain()\n"
        self.process = subprocess.Popen(
            [*prefix, sys.executable, "-c", script, "serve", "--config", str(self.config)],
            stderr=subprocess.STDOUT,
            **popen,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.url(path), headers=self._headers(headers))
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                return reply.status, reply.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {**self.headers, **(headers or {})}

    def post(
        self, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict]:
        request = urllib.request.Request(
            self.url("/v1/infer"),
            data=body,
            headers={"Content-Type": content_type, **self._headers(headers)},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def upload(
        self, name: str, data: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return self.post(body, f"multipart/form-data; boundary={boundary}", headers)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=60)

    def rss_kib(self) -> int:
        """Resident memory of the server and its children (workers) now."""
        children = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        ).stdout.split()
        pids = [str(self.process.pid), *children]
        total = 0
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except FileNotFoundError:
                continue
        return total


def wait_for(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def filed(watch: Path) -> list[str]:
    """Names of the clips a watch folder has filed in done/ and failed/."""
    return [
        p.name
        for folder in ("done", "failed")
        for p in (watch / folder).iterdir()
        if not p.name.endswith(".error.txt")
    ]


def systemd_analyze() -> str:
    """The systemd-analyze tool; skips without it, fails where CI requires it."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("EDGEMOOD_REQUIRE_SYSTEMD"):
            pytest.fail("systemd-analyze is required here (EDGEMOOD_REQUIRE_SYSTEMD is set)")
        pytest.skip(
            "systemd-analyze not installed (CI installs it and sets EDGEMOOD_REQUIRE_SYSTEMD)"
        )
    return tool
