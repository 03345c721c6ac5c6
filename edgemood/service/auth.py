"""Bearer-token authentication of ``edgemood serve``: the token file, the start-up decision
(token, explicit opt-out, or loopback only) and the ASGI check in front of every endpoint.

The token lives in a file only the service user may read; it is never logged, never echoed in
an error body and compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import stat
from pathlib import Path

from edgemood.service.config import ConfigError, ServiceConfig
from edgemood.service.prometheus import Metrics

log = logging.getLogger("edgemood.service.auth")
MIN_TOKEN_CHARS = 16
OPEN_PATHS = frozenset({"/healthz"})  # liveness probes need no secret
MAKE_TOKEN_HINT = (
    "make one with 'edgemood serve --make-token /etc/edgemood/api-token' and set "
    "api_token_file (or --token-file)"
)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses; anything else (0.0.0.0, ::, a LAN address,
    a host name) is treated as open to the network."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: Path) -> str:
    """The token in ``path``; ConfigError (one line) when the file is missing, empty, too short
    or readable or writable by anyone but its owner."""
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read(4096)
    except FileNotFoundError as exc:
        raise ConfigError(f"api_token_file: {path}: file not found ({MAKE_TOKEN_HINT})") from exc
    except OSError as exc:
        raise ConfigError(f"api_token_file: {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(mode):
        raise ConfigError(f"api_token_file: {path}: not a regular file")
    if mode & 0o077:
        raise ConfigError(
            f"api_token_file: {path} is accessible to group or others (mode "
            f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
        )
    try:
        token = data.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise ConfigError(f"api_token_file: {path}: the token must be ASCII text") from exc
    if len(token) < MIN_TOKEN_CHARS or any(c.isspace() for c in token):
        raise ConfigError(
            f"api_token_file: {path}: the token must be one word of at least {MIN_TOKEN_CHARS} "
            f"characters ({MAKE_TOKEN_HINT})"
        )
    return token


def make_token(path: Path) -> None:
    """Write a new random token (256 bits, URL-safe) to ``path``, mode 0600; never overwrites."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise ConfigError(f"--make-token: {path} already exists; not overwriting it") from exc
    except OSError as exc:
        raise ConfigError(f"--make-token: {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode is reduced by the umask, never widened: make it exact


def resolve_token(config: ServiceConfig) -> str | None:
    """The token the service requires, or None when it runs without one (loopback, or the owner
    opted out); ConfigError when the port would be open to the network without a token."""
    where = f"{config.host}:{config.port}"
    if config.api_token_file is not None:
        token = read_token(config.api_token_file)
        if config.insecure_no_auth:
            log.warning("insecure_no_auth ignored: api_token_file is set, the token is required")
        log.info("token authentication on (every endpoint but /healthz)")
        return token
    if is_loopback(config.host):
        log.info("authentication off: serving on loopback (%s) only", where)
        return None
    if config.insecure_no_auth:
        log.warning(
            "authentication OFF on %s (--insecure-no-auth): anyone who can reach this port can "
            "post clips and read /metrics",
            where,
        )
        return None
    raise ConfigError(
        f"refusing to serve on {where} without a token: {MAKE_TOKEN_HINT}, bind 127.0.0.1, or "
        "pass --insecure-no-auth to serve it open"
    )


class BearerAuth:
    """ASGI middleware: 401 unless ``Authorization: Bearer <token>`` (except ``OPEN_PATHS``)."""

    def __init__(self, app, token: str, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        self._expected = token.encode()

    def _check(self, headers: list[tuple[bytes, bytes]]) -> str:
        values = [v for k, v in headers if k.lower() == b"authorization"]
        if not values:
            return "missing"
        scheme, _, given = values[0].partition(b" ")
        if scheme.lower() != b"bearer":
            return "missing"
        # Constant time: how long the comparison takes says nothing about the token.
        return "ok" if hmac.compare_digest(given.strip(), self._expected) else "wrong"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        outcome = self._check(scope["headers"])
        if outcome == "ok":
            await self.app(scope, receive, send)
            return
        self.metrics.inc("edgemood_auth_failures_total", reason=outcome)
        client = scope.get("client") or ("?", 0)
        # The client and what was wrong; never the header's value.
        log.warning("401 %s %s from %s: %s bearer token", scope["method"], scope["path"],
                    client[0], outcome)  # fmt: skip
        challenge = 'Bearer realm="edgemood"'
        if outcome == "wrong":
            challenge += ', error="invalid_token"'
        body = (
            b'{"error": "wrong bearer token"}'
            if outcome == "wrong"
            else b'{"error": "authentication required: send Authorization: Bearer <token>"}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
