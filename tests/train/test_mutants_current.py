"""The mutation script's mutants still apply: each text it replaces occurs exactly once in the
current code. A mutant whose text the code no longer has would silently test nothing, so a change
that moves such code must update ``tests/tools/mutants.py`` with it."""

from __future__ import annotations

from pathlib import Path

import pytest
from tools.mutants import MUTANTS

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_text_is_in_the_code_once(mutant):
    text = (REPO / mutant.file).read_text(encoding="utf-8")
    for old, _ in mutant.edits:
        assert text.count(old) == 1, f"{mutant.id}: {old!r} occurs {text.count(old)} times"
