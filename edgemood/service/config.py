"""Configuration of ``edgemood serve``: a TOML file (default ``/etc/edgemood/config.toml``)
with command-line overrides. Unknown keys and wrong types are errors, so a typo in a device's
config fails at start with one line instead of being silently ignored."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from edgemood.errors import EdgemoodError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 (JetPack 6): the backport, installed by the [serve] extra
    import tomli as tomllib

DEFAULT_CONFIG = Path("/etc/edgemood/config.toml")


class ConfigError(EdgemoodError):
    exit_code = 2


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"  # loopback only unless the owner opens it on purpose
    port: int = 8377
    # Watch folder: clips dropped here are processed once; results go to ``output``
    # (default WATCH/results), clips end in WATCH/done or WATCH/failed.
    watch: Path | None = None
    output: Path | None = None
    # Watch folder results window by window (segments + summary, as infer --timeline --json).
    watch_timeline: bool = False
    # POST /v1/infer may name a file instead of uploading it, only under these folders.
    allowed_dirs: list[Path] = field(default_factory=list)
    model: Path | None = None
    backend: str | None = None
    precision: str | None = None
    threads: int = 1
    text_encoder: Path | None = None
    workers: int = 1  # inference processes; each holds its own models
    max_upload_mb: float = 100.0
    clip_timeout_s: float = 120.0
    poll_interval_s: float = 1.0
    settle_s: float = 2.0  # a dropped clip must keep its size and mtime this long
    # A CLIP.txt with no clip of its stem in the watch folder waits this long (after settling)
    # for its clip; then it is a text-only input of its own.
    text_alone_s: float = 30.0
    log_level: str = "info"
    # Bearer-token authentication (edgemood.service.auth): required to bind anything but loopback,
    # unless the owner opts out with insecure_no_auth (logged at every start).
    api_token_file: Path | None = None
    insecure_no_auth: bool = False

    @property
    def results_dir(self) -> Path | None:
        if self.watch is None:
            return None
        return self.output if self.output is not None else self.watch / "results"


_PATHS = {"watch", "output", "model", "text_encoder", "api_token_file"}


def _coerce(name: str, value: Any, default: Any) -> Any:
    if value is None:
        return None
    if name in _PATHS:
        return Path(value)
    if name == "allowed_dirs":
        if not isinstance(value, list):
            raise ConfigError(f"config: allowed_dirs must be a list of folders, not {value!r}")
        return [Path(v) for v in value]
    kind = type(default) if default is not None else str
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"config: {name} must be {kind.__name__}, not {value!r}")
    return value


def load_config(path: Path | None = None, overrides: dict[str, Any] | None = None) -> ServiceConfig:
    """The service configuration.

    Args:
        path: a TOML file; None: ``/etc/edgemood/config.toml`` when it exists, else defaults.
        overrides: command-line values (None values are ignored).
    Raises:
        ConfigError: unreadable file, unknown key or wrong type (one-line message).
    """
    values: dict[str, Any] = {}
    source = path if path is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    if source is not None:
        try:
            with open(source, "rb") as handle:
                values = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise ConfigError(f"config: {source}: file not found") from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config: {source}: {exc}") from exc
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    defaults = {f.name: getattr(ServiceConfig(), f.name) for f in fields(ServiceConfig)}
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ConfigError(f"config: unknown setting(s): {', '.join(unknown)}")
    config = ServiceConfig(**{k: _coerce(k, v, defaults[k]) for k, v in values.items()})
    if config.workers < 1 or config.threads < 1:
        raise ConfigError("config: workers and threads must be at least 1")
    if config.text_alone_s < 0:
        raise ConfigError("config: text_alone_s must not be negative")
    if config.max_upload_mb <= 0 or config.clip_timeout_s <= 0:
        raise ConfigError("config: max_upload_mb and clip_timeout_s must be positive")
    return config
