"""Tools the tests and CI share, run by hand or by path, never collected by pytest:
``mutants.py`` (targeted mutation testing), ``kill9_cycles.py`` (kill -9 soak of the watch-folder
service), and ``ci_script`` to import one of the CI's own scripts (``.ci/*.py``, run there by path:
``.ci`` is not an importable package name) in a test."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

CI = Path(__file__).resolve().parents[2] / ".ci"


def ci_script(name: str) -> ModuleType:
    """The module of ``.ci/NAME.py``, loaded from its path."""
    spec = importlib.util.spec_from_file_location(f"ci_{name}", CI / f"{name}.py")
    assert spec is not None and spec.loader is not None, CI / f"{name}.py"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
