"""The README's headline figures are the ones benchmarks/RESULTS.md states: the table between
``<!-- headline-figures -->`` and ``<!-- /headline-figures -->`` is the same in both files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEADLINE = re.compile(r"<!-- headline-figures -->\n(.*?)\n<!-- /headline-figures -->", re.S)


def headline_table(path: Path) -> list[str]:
    """The table's lines (header, separator, rows), each stripped of trailing spaces."""
    found = HEADLINE.findall(path.read_text(encoding="utf-8"))
    assert len(found) == 1, f"{path.name}: {len(found)} headline-figures blocks, expected one"
    return [line.rstrip() for line in found[0].strip().splitlines()]


@pytest.mark.parametrize("name", ["README.md", "benchmarks/RESULTS.md"])
def test_each_page_has_one_small_headline_table(name):
    lines = headline_table(REPO / name)
    assert all(line.startswith("|") and line.endswith("|") for line in lines), lines
    assert set(lines[1]) <= set("|-: "), "the second line is the table's separator"
    assert 4 <= len(lines) - 2 <= 8, f"{len(lines) - 2} rows: a headline table has 4 to 8"


def test_readme_headline_figures_equal_the_results_page():
    assert headline_table(REPO / "README.md") == headline_table(REPO / "benchmarks/RESULTS.md")
