"""Typed errors: the library raises them, the CLI shows them once.

Every error carries *where* (a file, a dotted key, a column) and a message
saying what was expected and what was found. The CLI prints
``lstmctl: error: WHERE: MESSAGE`` on stderr and exits with ``exit_code``.
"""

from __future__ import annotations


class LstmctlError(Exception):
    """Base of every error lstmctl reports to a user."""

    exit_code = 1

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class UsageError(LstmctlError):
    """Bad command-line usage (an option's value, a missing argument)."""

    exit_code = 2


class SpecError(LstmctlError):
    """The spec (YAML or a ``--set`` override) is invalid."""

    exit_code = 2


class DataError(LstmctlError):
    """A data file or a generated problem cannot be used as the spec says."""

    exit_code = 2


class ModelDirError(LstmctlError):
    """A model directory is missing, damaged, modified or from a newer lstmctl."""

    exit_code = 2


class RunError(LstmctlError):
    """A run failed after its inputs were accepted (training diverged, ...)."""

    exit_code = 1


class Interrupted(LstmctlError):
    """The run was interrupted (Ctrl-C); what finished was kept."""

    exit_code = 130
