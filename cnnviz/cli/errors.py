"""The one kind of error the command line reports: a sentence, exit code 2, never a traceback."""

from __future__ import annotations

__all__ = ["CliError"]


class CliError(Exception):
    """A problem with what the command was given (a file, a key, a layer, a model); `str(err)` says which."""
