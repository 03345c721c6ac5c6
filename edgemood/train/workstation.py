"""The workstation tools of a checkout (``export/``): training writes ``fusion.onnx`` and exports
text encoders with them. They lie beside the ``edgemood`` package in a checkout and are not in
the wheel, so training runs from a checkout of edgemood."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

from edgemood.errors import ModelError

# A checkout's root: the folder holding the edgemood package (and export/, quantize/ beside it).
CHECKOUT = Path(__file__).resolve().parents[2]


def require_export() -> None:
    """Make ``import export`` work: it does already (run from a checkout's root, or with it on
    the path), or the checkout this package lies in has ``export/``, and goes on ``sys.path``.
    Else ModelError (one line): training and export need a checkout of edgemood."""
    if importlib.util.find_spec("export") is not None:
        return
    if not (CHECKOUT / "export" / "__init__.py").is_file():
        raise ModelError(
            "training and export need a checkout of edgemood (its export/ tools are not in the "
            f"installed package; none beside {CHECKOUT / 'edgemood'}): install edgemood from a "
            "checkout with `pip install -e '.[train]'`"
        )
    sys.path.append(str(CHECKOUT))
    importlib.invalidate_caches()
