"""Size budgets: ``python .ci/check_size.py [--budgets FILE] [--root DIR]`` (run by ``.ci/run``).

Exit 0 when every budgeted path of ``.ci/size_budget.toml`` exists and fits; otherwise one line per
problem naming the file, its size and its budget, and exit 1. The budgets are read and checked by
``quantize/size_budget.py`` (which ``edgemood quantize text`` uses too). Standard library only,
so CI can run it anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quantize.size_budget import BUDGETS, check_all  # noqa: E402


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
