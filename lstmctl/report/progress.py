"""Progress over repeats and epochs, on stderr, only when stderr is a terminal."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def repeat_progress(repeats: int, epochs: int, quiet: bool = False) -> Iterator[Any]:
    """Yield ``update(repeat, epochs_done, total)`` for the trainers (a no-op off a terminal)."""
    console = Console(stderr=True)
    if quiet or not sys.stderr.isatty():
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        overall = bar.add_task("repeats", total=repeats)
        current = bar.add_task("epochs", total=epochs)

        def update(repeat: int, done: int, total: int) -> None:
            bar.update(current, completed=done, total=total)
            if repeat < 0:  # all repeats train together
                bar.update(overall, completed=repeats if done >= total else 0)
            elif done >= total:
                bar.update(overall, completed=repeat + 1)

        yield update
