"""Progress on stderr for long loops (epochs, folds, labelled clips): a bar rewritten in place on a
terminal, plain lines elsewhere (logs, pipes, CI), so stdout stays clean for results and --json.
"""

from __future__ import annotations

import sys
from typing import TextIO

BAR_WIDTH = 24


class Progress:
    """``update(done, info)`` after each step; ``close()`` at the end (or use ``with``)."""

    def __init__(
        self, total: int, label: str, every: int | None = None, stream: TextIO | None = None
    ) -> None:
        """
        Args:
            total: number of steps.
            label: what is counted ("epoch", "clips").
            every: off a terminal, print a line every this many steps (default: about ten
                lines in all); the last step is always printed.
            stream: where to write (default: stderr).
        """
        self.total = max(int(total), 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every = every or max(1, self.total // 10)
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = False

    def update(self, done: int, info: str = "") -> None:
        """Report that ``done`` of ``total`` steps are finished; ``info``: numbers to show."""
        text = f"{self.label} {done}/{self.total}" + (f": {info}" if info else "")
        if self.tty:
            filled = round(BAR_WIDTH * min(done, self.total) / self.total)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            self.stream.write(f"\r\x1b[K[{bar}] {text}")
            self._drawn = True
        elif done % self.every == 0 or done >= self.total:
            self.stream.write(text + "\n")
        self.stream.flush()

    def line(self, text: str) -> None:
        """A line of its own (a note), without breaking the bar."""
        self.clear()
        self.stream.write(text + "\n")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar on a terminal (before other output to it); the next update draws it."""
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def close(self) -> None:
        """End the bar's line on a terminal."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
