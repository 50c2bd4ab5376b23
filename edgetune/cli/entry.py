"""The `edgetune` command's entry point: Ctrl-C and SIGTERM end it cleanly from the start.

Importing the command line takes seconds (TVM loads): the handlers are in place before it, so
an interrupt then ends like one during the work (one line, exit 130), as does one TVM swallowed.
A reader that closes the output early (`edgetune ... | head`) ends it quietly, exit 141."""

from __future__ import annotations

import os
import signal
import sys
import threading

from .. import stop

INTERRUPTED, PIPE_CLOSED = stop.INTERRUPTED, 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        stop.handle_signals()
    try:
        from .main import main as run_command

        code = run_command(argv)
        if stop.requested() and code != INTERRUPTED:  # one TVM swallowed (an error of its own)
            raise KeyboardInterrupt
    except Exception as err:
        if _pipe_closed(err):  # stdout's reader has gone: nothing buffered may reach it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return PIPE_CLOSED
        if not stop.requested():
            raise
        # raised inside a Python function that TVM's C++ called (a legalization, a pass):
        # TVM's FFI turns the KeyboardInterrupt into an error of its own on the way out
        print("edgetune: interrupted", file=sys.stderr)
        code = INTERRUPTED
    except KeyboardInterrupt:
        print("edgetune: interrupted", file=sys.stderr)
        code = INTERRUPTED
    if code == INTERRUPTED and threading.current_thread() is threading.main_thread():
        stop.ignore_signals()  # a pending one (TVM's FFI can raise it again) must not end it
    if code != 0:
        _silence_stderr()
    return code


def _pipe_closed(err: BaseException | None) -> bool:
    """Whether `err` is, or was raised while handling, a write to a closed pipe (TVM's FFI may
    wrap the error of a progress line printed from a callback)."""
    while err is not None:
        if isinstance(err, BrokenPipeError):
            return True
        err = err.__cause__ or err.__context__
    return False


def _silence_stderr() -> None:
    """After an error or an interrupt, TVM objects abandoned mid-work (e.g. a Relax
    BlockBuilder) log C++ warnings when they are freed at exit: the line already printed is
    what the user needs (`--verbose` raises instead of returning, so its logs stay)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
