"""The ``lstmctl`` command: parse, call the library (:mod:`lstmctl.api`), render. No Keras here.

One module per command group, each registering its commands on the one Typer
``app`` (:mod:`lstmctl.cli.app`); every result goes out through
:mod:`lstmctl.cli.output`. Results go to stdout; errors, logs and progress to
stderr. Exit codes: 0 ok, 1 a run failed, 2 bad usage, spec or data, 130
interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

from lstmctl.cli.app import _State, app, guarded, main

# The command groups register themselves on ``app`` when imported, in the
# order ``lstmctl --help`` lists them (not sorted, then).
# isort: off
from lstmctl.cli import run as _run
from lstmctl.cli import diagnose as _diagnose
from lstmctl.cli import runs as _runs
from lstmctl.cli import model as _model
from lstmctl.cli import tune as _tune

# isort: on
from lstmctl.cli.output import Format, emit

__all__ = ["Format", "_State", "app", "emit", "guarded", "main"]

_COMMANDS = (_run, _diagnose, _runs, _model, _tune)
