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
        text = f"{self.where}: {self.message}" if self.where else self.message
        if text.isprintable():
            return text
        # One error, one line: a key or column name as the user wrote it may hold a
        # line break or a control character; show those escaped, as repr() does.
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def undecodable(e: UnicodeDecodeError) -> tuple[int, str]:
    """Where text that is not UTF-8 goes wrong: its line, and ``found byte 0xNN``."""
    line = bytes(e.object[: e.start]).count(b"\n") + 1
    return line, f"found byte 0x{e.object[e.start]:02x}"


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
    """The run was stopped by a signal (Ctrl-C, ``kill``); what finished was kept.

    ``exit_code`` is 128 + the signal's number, as a shell reports a process
    the signal killed: 130 for SIGINT, 143 for SIGTERM. Without ``signum``,
    the signal lstmctl's handler received (see :mod:`lstmctl.signals`), else SIGINT.
    """

    exit_code = 130

    def __init__(self, message: str, where: str | None = None, signum: int | None = None) -> None:
        from lstmctl import signals

        super().__init__(message, where)
        self.signum = signals.signum_of() if signum is None else signum
        self.exit_code = 128 + self.signum
