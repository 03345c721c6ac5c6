"""Size budgets: ``python -m benchmarks.check_size [--budgets FILE] [--root DIR]``.

Exit 0 when every budgeted path exists and fits; otherwise one line per problem naming the file,
its size and its budget, and exit 1. Standard library only, so CI can run it anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tomllib

BUDGETS = Path(__file__).with_name("size_budget.toml")
ROOT = Path(__file__).resolve().parent.parent


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=Path, default=BUDGETS)
    parser.add_argument("--root", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    problems, report = check_all(args.budgets, args.root)
    for line in report:
        print(line)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
