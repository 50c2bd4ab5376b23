"""Whether this process was asked to stop (Ctrl-C or SIGTERM), or met an error inside TVM.

The signal handlers raise KeyboardInterrupt where the main thread happens to be; if that is
inside a Python function TVM's C++ called, TVM may turn it into an error of its own that some
code catches, and the interrupt would be lost. The request is also kept here, so the next
clean place to stop (`search.interrupt`) still stops.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
import threading

from .errors import EdgetuneError

INTERRUPTED = 130  # the exit code of an interrupted command (128 + SIGINT)

_requested = threading.Event()
_ending = threading.Event()
_carried: list[EdgetuneError] = []
_resume: list[str] = []  # the command that resumes this process's work, as its CLI said it


def resumes_with(command: str) -> None:
    """Say which command resumes the work under way (`resume_command`): what a stop at once
    prints, rather than the command line as typed."""
    _resume[:] = [command]


def resume_command() -> str:
    """The command that resumes this process's work (`resumes_with`; else as it was typed)."""
    return _resume[0] if _resume else shlex.join(["edgetune", *sys.argv[1:]])


def request() -> None:
    """Record that the user asked this process to stop."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def clear(ending: bool = False) -> None:
    """The stop has been carried out (a later tune in this process starts afresh). `ending`:
    the process is winding down because of it (its workers being shut down), so a further
    signal ends it at once (`ending_now`) instead of raising in whatever runs then."""
    if ending:
        _ending.set()
    _requested.clear()


def ending_now() -> bool:
    """Whether an interrupt already ends this process (`clear(ending=True)`)."""
    return _ending.is_set()


def carry(err: EdgetuneError) -> EdgetuneError:
    """Keep `err` for `carried`; returns it to be raised. Raised where TVM's C++ called Python
    (a runner's candidate future: the board lost; a measure callback: records not written),
    it comes back as a RuntimeError with its message only."""
    _carried.append(err)
    return err


def carried() -> EdgetuneError | None:
    """The error carried since the last call, if any (then forgotten)."""
    return _carried.pop() if _carried else None


def handle_signals() -> None:
    """Ctrl-C, and SIGTERM like it: request the stop and raise KeyboardInterrupt where the main
    thread is (tuning's workers are spared: `search.interrupt`); a signal while a stop already
    ends the process exits at once. A KeyboardInterrupt raised in a finalizer (a worker pool's
    `__del__` at the end of a tune) cannot propagate: Python printed it as "Exception ignored"
    with a traceback; the stop it asked for is kept and said once, where the command ends."""

    def on_signal(signum, frame) -> None:
        if ending_now():
            os._exit(INTERRUPTED)
        request()
        raise KeyboardInterrupt

    default_hook = sys.unraisablehook

    def unraisable(info) -> None:
        if not isinstance(info.exc_value, KeyboardInterrupt):
            default_hook(info)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sys.unraisablehook = unraisable


def ignore_signals() -> None:
    """Ctrl-C and SIGTERM ignored (an interrupted command that is ending)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
