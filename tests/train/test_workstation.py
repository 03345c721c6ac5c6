"""Training finds the workstation tools (``export/``) beside the package in a checkout, and says
in one line that it needs a checkout where there is none (an installed wheel)."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from edgemood.errors import ModelError
from edgemood.train import workstation


def _no_export_on_the_path(monkeypatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "export" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    monkeypatch.setattr(sys, "path", list(sys.path))


def test_the_checkout_is_the_folder_holding_the_package():
    assert (workstation.CHECKOUT / "edgemood" / "train" / "workstation.py").is_file()
    assert (workstation.CHECKOUT / "export" / "__init__.py").is_file()


def test_export_already_importable_changes_nothing(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = list(sys.path)
    workstation.require_export()
    assert sys.path == before


def test_the_checkout_goes_on_the_path(monkeypatch, tmp_path):
    _no_export_on_the_path(monkeypatch)
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "__init__.py").write_text("")
    monkeypatch.setattr(workstation, "CHECKOUT", tmp_path)
    workstation.require_export()
    assert sys.path[-1] == str(tmp_path)


def test_without_a_checkout_one_line(monkeypatch, tmp_path):
    _no_export_on_the_path(monkeypatch)
    monkeypatch.setattr(workstation, "CHECKOUT", tmp_path)
    with pytest.raises(ModelError) as error:
        workstation.require_export()
    message = str(error.value)
    assert "\n" not in message and "need a checkout of edgemood" in message
