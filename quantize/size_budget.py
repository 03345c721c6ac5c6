"""Size budgets: the budgets of ``.ci/size_budget.toml`` and the checks against them.

CI checks every budget that names paths (``python .ci/check_size.py``, which prints one line per
problem naming the file, its size and its budget); a budget without paths is checked where its
file is built (``edgemood quantize text`` checks ``text_encoder_int8`` with ``check_file``).
Standard library only, so CI can run it anywhere.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
BUDGETS = ROOT / ".ci" / "size_budget.toml"


def load_budgets(path: Path = BUDGETS) -> dict[str, dict]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)


def _size(path: Path, exclude: list[Path]) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(
        f.stat().st_size
        for f in path.rglob("*")
        if f.is_file() and not any(f.is_relative_to(e) for e in exclude)
    )


def _kb(n: int) -> str:
    return f"{n:,} bytes ({n / 1024:,.1f} KB)"


def _measure(budget: dict, root: Path) -> list[tuple[str, int | None]]:
    """(entry, size in bytes or None when missing) for each path of a budget."""
    exclude = [root / e for e in budget.get("exclude", [])]
    return [
        (entry, _size(root / entry, exclude) if (root / entry).exists() else None)
        for entry in budget.get("paths", [])
    ]


def _problems(name: str, limit: int, measured: list[tuple[str, int | None]]) -> list[str]:
    problems = []
    for entry, size in measured:
        if size is None:
            problems.append(f"size budget {name}: {entry} is missing (budget {_kb(limit)})")
        elif size > limit:
            problems.append(
                f"size budget {name}: {entry} is {_kb(size)}, over its budget of {_kb(limit)}"
            )
    return problems


def check_budget(name: str, budget: dict, root: Path = ROOT) -> list[str]:
    """Problems with one budget (empty when it holds)."""
    return _problems(name, int(budget["max_bytes"]), _measure(budget, root))


def check_file(name: str, path: Path, budgets: Path = BUDGETS) -> str | None:
    """Check one built file against a named budget (for budgets checked where they are built)."""
    budget = {**load_budgets(budgets)[name], "paths": [str(Path(path).resolve())]}
    problems = check_budget(name, budget, Path("/"))
    return problems[0] if problems else None


def check_all(budgets: Path = BUDGETS, root: Path = ROOT) -> tuple[list[str], list[str]]:
    """(problems, lines describing each checked path)."""
    problems, report = [], []
    for name, budget in load_budgets(budgets).items():
        limit = int(budget["max_bytes"])
        measured = _measure(budget, root)  # each path walked once, for the check and the report
        problems += _problems(name, limit, measured)
        report += [
            f"{name}: {entry} {_kb(size)} / {_kb(limit)}"
            for entry, size in measured
            if size is not None
        ]
    return problems, report
