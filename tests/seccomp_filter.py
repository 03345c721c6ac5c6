"""The system-call sandbox of deploy/edgemood.service, rebuilt as seccomp filters (libseccomp
through ctypes) so the test suite can run the real service under it without systemd.

What systemd does for ``SystemCallFilter=`` lines, ``SystemCallErrorNumber=`` and
``MemoryDenyWriteExecute=yes`` (src/shared/seccomp-util.c), done the same way here:

- the first ``SystemCallFilter=`` line decides the mode: an allow list, later ``~`` lines take
  their sets out of it; groups (``@system-service``) are expanded with ``systemd-analyze
  syscall-filter``, so the sets are those of the systemd installed here;
- every other system call fails with the errno of ``SystemCallErrorNumber=``;
- MemoryDenyWriteExecute, a second filter: ``mmap`` with PROT_WRITE and PROT_EXEC together,
  ``mprotect``/``pkey_mprotect`` adding PROT_EXEC, and ``shmat`` with SHM_EXEC fail with EPERM.

Filters apply to the process that loads them and everything it starts (inherited across fork
and exec), as systemd's do for a service.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import mmap
import subprocess
import sys
from pathlib import Path

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
SHM_EXEC = 0o100000


def _act_errno(number: int) -> int:
    return 0x00050000 | (number & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def unit_settings(unit: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a unit file, every value of each key in order."""
    settings: dict[str, list[str]] = {}
    for line in unit.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def syscall_groups(tool: str = "systemd-analyze") -> dict[str, list[str]]:
    """Every ``@group`` systemd knows, with its members (system calls and nested groups)."""
    text = subprocess.run(
        [tool, "syscall-filter", "--no-pager"], capture_output=True, text=True, check=True
    ).stdout
    groups: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), [])
        elif not line.strip() or not line.startswith(" "):
            current = None
        elif current is not None and not line.strip().startswith("#"):
            current.append(line.strip())
    return groups


def _expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    out: set[str] = set()
    for name in names:
        if name.startswith("@"):
            out |= _expand(groups[name], groups)
        else:
            out.add(name)
    return out


def allowed_syscalls(unit: Path, tool: str = "systemd-analyze") -> set[str]:
    """The system calls the unit's ``SystemCallFilter=`` lines allow (allow-list mode only)."""
    lines = unit_settings(unit).get("SystemCallFilter", [])
    if not lines or lines[0].startswith("~"):
        raise ValueError(f"{unit}: the first SystemCallFilter= line must be an allow list")
    groups = syscall_groups(tool)
    allowed: set[str] = set()
    for line in lines:
        deny = line.startswith("~")
        names = _expand(line.lstrip("~").split(), groups)
        allowed = allowed - names if deny else allowed | names
    return allowed


def filter_spec(unit: Path, tool: str = "systemd-analyze") -> dict:
    """What ``apply`` needs, as JSON-able data (computed in the test, applied in the server)."""
    settings = unit_settings(unit)
    error = settings.get("SystemCallErrorNumber", ["EPERM"])[-1]
    return {
        "allow": sorted(allowed_syscalls(unit, tool)),
        "errno": getattr(errno, error),
        "mdwe": settings.get("MemoryDenyWriteExecute", ["no"])[-1] in ("yes", "true", "1"),
    }


def _lib():
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)
    ]  # fmt: skip
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _rule(lib, ctx, action: int, name: str, arg: int | None = None, mask: int = 0) -> bool:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:  # not a system call of this architecture (systemd skips those too)
        return False
    if arg is None:
        result = lib.seccomp_rule_add_array(ctx, action, number, 0, None)
    else:
        cmp = (_ArgCmp * 1)(_ArgCmp(arg, SCMP_CMP_MASKED_EQ, mask, mask))
        result = lib.seccomp_rule_add_array(ctx, action, number, 1, cmp)
    if result != 0:
        raise OSError(-result, f"seccomp_rule_add({name})")
    return True


def _load(lib, ctx) -> None:
    try:
        result = lib.seccomp_load(ctx)
        if result != 0:
            raise OSError(-result, "seccomp_load")
    finally:
        lib.seccomp_release(ctx)


def apply(spec: dict) -> int:
    """Load the filters into this process (and its future children); the number of system calls
    allowed on this architecture."""
    lib = _lib()
    if spec["mdwe"]:  # first, as systemd does: the system-call filter forbids seccomp() itself
        ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
        deny = _act_errno(errno.EPERM)
        wx = mmap.PROT_WRITE | mmap.PROT_EXEC
        for name in ("mmap", "mmap2"):
            _rule(lib, ctx, deny, name, 2, wx)
        for name in ("mprotect", "pkey_mprotect"):
            _rule(lib, ctx, deny, name, 2, mmap.PROT_EXEC)
        _rule(lib, ctx, deny, "shmat", 2, SHM_EXEC)
        _load(lib, ctx)
    ctx = lib.seccomp_init(_act_errno(spec["errno"]))
    if not ctx:
        raise OSError("seccomp_init failed")
    count = sum(_rule(lib, ctx, SCMP_ACT_ALLOW, name) for name in spec["allow"])
    _load(lib, ctx)
    return count


if __name__ == "__main__":  # python tests/seccomp_filter.py SPEC.json COMMAND...: run under it
    import os

    apply(json.loads(Path(sys.argv[1]).read_text()))
    os.execvp(sys.argv[2], sys.argv[2:])
