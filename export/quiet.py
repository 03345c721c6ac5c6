"""Keep the export and quantize commands' output to what the user needs.

torch, torchao, litert-torch, TensorFlow's converter and Optimum print ~90 lines per run: progress
trees on stdout, deprecation warnings, C++ log lines (absl) and failed optional-kernel loads on
stderr. None of it is about the user's model. It is held back (at the file-descriptor level, so
C++ output is caught too) and summarised in one line; ``--verbose`` lets it through, and when the
step fails it is shown in full, since it may then explain the failure.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator

from edgemood.errors import EdgemoodError


@contextlib.contextmanager
def third_party_output(verbose: bool, command: str) -> Iterator[None]:
    """Hold back what runs inside prints; afterwards one line on stderr says how much.

    Args:
        verbose: let everything through (nothing is held back).
        command: named in the summary line (e.g. "edgemood quantize").
    """
    if verbose:
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as sink:
        text = io.TextIOWrapper(sink, encoding="utf-8", errors="replace", write_through=True)
        saved = os.dup(1), os.dup(2)
        try:
            try:
                os.dup2(sink.fileno(), 1)
                os.dup2(sink.fileno(), 2)
                # Python-level streams too: they may not be fd 1/2 (a test runner, a notebook).
                with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
                    yield
            finally:
                _restore(saved)
        except EdgemoodError:
            raise  # a failure edgemood explains in its own line
        except BaseException:
            sys.stderr.write(_read(sink))  # the step failed: what it printed may say why
            raise
        finally:
            text.detach()
        lines = _read(sink).count("\n")
    if lines:
        print(
            f"{command}: {lines} line(s) of torch/torchao/LiteRT output hidden "
            "(--verbose shows them)",
            file=sys.stderr,
        )


def _restore(saved: tuple[int, int]) -> None:
    with contextlib.suppress(ValueError, OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    for fd, copy in zip((1, 2), saved):
        os.dup2(copy, fd)
        os.close(copy)


def _read(sink) -> str:
    sink.flush()
    sink.seek(0)
    return sink.read().decode("utf-8", errors="replace")
