"""SIGINT and SIGTERM: stop a command cleanly, keep what finished, exit 128 + the signal.

The ``lstmctl`` command (and each ``tune --workers`` child) installs one
handler for both signals with :func:`handled`: the first signal raises
:class:`Signalled`, a ``KeyboardInterrupt`` that carries the signal's number,
so every ``except KeyboardInterrupt`` that saves what finished works for
``kill`` as for Ctrl-C, and the exit status is 130 (SIGINT) or 143 (SIGTERM),
as a shell reports a process the signal killed.

Raising from the handler alone loses signals. Python runs the handler in the
main thread at its next bytecode, wherever that is: inside a garbage-collector
callback (JAX registers one), a ``__del__`` or a weakref callback, the
exception is printed as "Exception ignored" and dropped; and a signal that
arrives during a long compiled call (XLA, TensorFlow) waits until the call
returns. So the signal is also kept as a flag, and the long loops (replica
builds, compiled calls of a bounded length, Keras batches, repeats) call
:func:`check` between steps, which raises it there. A raise Python dropped is
recognised (``sys.unraisablehook``) and not printed; until a check raises it,
a further signal raises it again instead of counting as the second.

While the first signal's cleanup saves the final state, a second signal is
ignored (with a note on stderr), so it cannot cut a save short; a third quits
at once, without cleaning up (files are written atomically, so at worst a
temporary file is left).

The library installs nothing: ``lstmctl.run(spec)`` called from Python keeps
Python's own behaviour (Ctrl-C raises ``KeyboardInterrupt``, SIGTERM kills).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Signalled(KeyboardInterrupt):
    """The ``KeyboardInterrupt`` a handled signal raises; ``signum`` says which signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = int(signum)


class _State:
    first: int | None = None  # the signal that is stopping this process
    count = 0
    announce = True
    deferring = 0  # depth of deferred() blocks
    pending: int | None = None  # a first signal held back by deferred()
    lost = False  # the first signal's exception was dropped where Python ignores exceptions
    polling = 0  # depth of polled() blocks: the handler only notes the signal


def received() -> int | None:
    """The first signal the installed handler received, if any."""
    return _State.first


def signum_of(exc: BaseException | None = None) -> int:
    """The signal behind an interruption: the exception's, else the first received, else SIGINT."""
    sig = getattr(exc, "signum", None)
    if isinstance(sig, int):
        return sig
    return _State.first or int(signal.SIGINT)


def exit_code(exc: BaseException | None = None) -> int:
    """128 + the signal's number: 130 for SIGINT (Ctrl-C), 143 for SIGTERM (``kill``)."""
    return 128 + signum_of(exc)


def interrupted(signum: int) -> str:
    """``interrupted``, naming the signal when it was not Ctrl-C's."""
    return (
        "interrupted"
        if signum == signal.SIGINT
        else f"interrupted by {signal.Signals(signum).name}"
    )


def check() -> None:
    """Raise the signal the installed handler received, if any: a safe point in a long loop.

    Loops that run for long (building replicas, compiled calls, batches,
    repeats) call it between steps, so a signal whose exception was dropped
    (see the module doc) still stops the work within a step. A no-op when
    no signal came, inside :func:`deferred`, and without :func:`handled` or
    :func:`sigterm_interrupts` (a library caller's Ctrl-C is Python's own).
    """
    if _State.first is not None and not _State.deferring:
        _State.lost = False
        raise Signalled(_State.first)


def _handler(signum: int, frame: Any) -> None:
    _State.count += 1
    if _State.first is None:
        _State.first = signum
        if _State.deferring:
            _State.pending = signum
            return
        if _State.polling:
            return  # check() raises it at the work's next safe point
        raise Signalled(signum)
    if _State.lost:
        # The first one's exception was dropped, so nothing is being cleaned up yet:
        # this one stops the work instead (and the next counts as the second).
        _State.lost, _State.count = False, 1
        if _State.deferring:
            _State.pending = _State.first
            return
        raise Signalled(_State.first)
    if _State.count == 2:
        if _State.announce:
            # os.write: safe wherever the main thread was (print could re-enter a stream).
            os.write(2, b"lstmctl: stopping; saving what finished (signal again to quit at once)\n")
        return
    os._exit(128 + signum)


def _unraisable(hook: Any) -> Any:
    """``sys.unraisablehook`` that notes (and does not print) a dropped :class:`Signalled`."""

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Signalled):
            _State.lost = True
            return
        hook(info)

    return unraisable


def installed() -> bool:
    """Whether :func:`handled` is in force (the CLI's handling, not a library caller's)."""
    return signal.getsignal(signal.SIGTERM) is _handler


@contextmanager
def handled(announce: bool = True) -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Signalled` for the duration (main thread only).

    ``announce=False`` leaves out the note a second signal prints (child workers,
    whose parent forwards a signal they may have had already from the terminal).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _State.first, _State.count, _State.announce = None, 0, announce
    _State.lost = False
    previous = {s: signal.signal(s, _handler) for s in SIGNALS}
    hook = sys.unraisablehook
    sys.unraisablehook = _unraisable(hook)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        sys.unraisablehook = hook
        _State.first, _State.count, _State.pending, _State.lost = None, 0, None, False


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a handled signal back until the block ends, then raise it.

    For work a ``KeyboardInterrupt`` must not cut in two: importing JAX or
    TensorFlow (an exception inside their native modules' initialisation
    can crash the interpreter). Without :func:`handled` it changes nothing.
    """
    _State.deferring += 1
    try:
        yield
    finally:
        _State.deferring -= 1
    if not _State.deferring and _State.pending is not None:
        signum, _State.pending = _State.pending, None
        raise Signalled(signum)


@contextmanager
def polled() -> Iterator[None]:
    """Within the block a handled signal is only noted; :func:`check` raises it.

    For framework code that an exception raised at an arbitrary point can
    leave broken rather than interrupted (TensorFlow tracing or running a
    function, Keras building a model: a crash of the process, not an
    exception). The work inside calls :func:`check` at its safe points (a
    Keras callback at every batch end); the signal is raised when the block
    ends at the latest. Without :func:`handled` it changes nothing.
    """
    _State.polling += 1
    try:
        yield
    finally:
        _State.polling -= 1
    if not _State.polling:
        check()


def _raise(signum: int, frame: Any) -> None:
    if _State.first is None:
        _State.first = signum  # for check(), should this raise be dropped
    raise Signalled(signum)


@contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """``kill PID`` stops the block as Ctrl-C does, unless :func:`handled` already sees to it.

    For long library calls that must clean up on SIGTERM too (a study's
    running trial is queued again); the previous handler is restored after.
    """
    if installed() or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        _State.first = None
