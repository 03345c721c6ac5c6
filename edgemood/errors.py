"""Errors that end the processing of one clip with a one-line reason (never a traceback)."""

from __future__ import annotations


class EdgemoodError(Exception):
    """A clip or model could not be processed; str(error) is the one-line reason."""

    exit_code = 1


class InputError(EdgemoodError):
    """The input file is missing, unreadable, not media, or holds nothing usable.

    ``reason`` is a short machine-readable code (metrics labels, HTTP status): not_found,
    not_a_file, unreadable, empty, not_media, corrupt, nothing_usable.
    """

    exit_code = 2

    def __init__(self, message: str, reason: str = "nothing_usable") -> None:
        super().__init__(message)
        self.reason = reason


class ModelError(EdgemoodError):
    """A model file or model directory is missing or invalid."""

    exit_code = 3
