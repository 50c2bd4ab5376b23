"""Ctrl-C during tuning: interrupt edgetune, not the worker processes it started.

A terminal's Ctrl-C sends SIGINT to every process in the foreground group, so MetaSchedule's
build and run workers would die mid-import with tracebacks of their own. While tuning, SIGINT is
blocked in the threads that start workers (children inherit the signal mask, so they never see
it) and delivered to an idle thread instead.

The signals (SIGINT, and SIGTERM like it) are handled by a watcher thread, which Python's C
signal handler wakes through `signal.set_wakeup_fd`, wherever the main thread is: Python's own
handlers run only when the main thread runs Python, and MetaSchedule's search spends up to
minutes in C++ (a second SIGTERM waited 100 s there). The first signal only sets a flag
(`edgetune.stop`, where an interrupt raised during start-up and swallowed on the way is kept
too): `stop_if_interrupted()`, called after each measured batch has been written to the records,
raises KeyboardInterrupt there (raising it wherever the main thread happened to be -- inside a
cost-model or search callback that TVM's C++ calls -- could end in std::terminate, a crash with
a C stack). A second signal ends the process at once, exit 130: every batch measured before it
is in the records (a record cut short by the exit is set aside when the folder is next
opened), and the batch being measured is lost. So does a SIGTERM's grace running out: a
supervisor that sends SIGTERM kills soon after (docker stop after 10 s), so the batch may
finish within `$EDGETUNE_TERM_GRACE_S` (default 5 s), else the process stops at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator

from .. import stop

_watcher: threading.Thread | None = None
_wakeup: socket.socket | None = None  # the write end Python's C handler writes signals to


def _ensure_watcher() -> None:
    global _watcher, _wakeup
    if _watcher is None:
        read, _wakeup = socket.socketpair()
        _wakeup.setblocking(False)  # as set_wakeup_fd requires
        _watcher = threading.Thread(target=_watch, args=(read,), name="edgetune-signals",
                                    daemon=True)  # fmt: skip
        _watcher.start()


def _watch(read: socket.socket) -> None:
    """Act on each signal byte as it arrives, whatever the main thread is doing."""
    while data := read.recv(64):
        for signum in data:
            if signum in (signal.SIGINT, signal.SIGTERM):
                _on_signal(signum)


_unit = "batch"  # what the current block finishes before it stops (`sigint_spares_workers`)
_grace: threading.Timer | None = None  # a SIGTERM's deadline for the current unit


def term_grace_s() -> float:
    """How long a SIGTERM lets the current unit of work finish ($EDGETUNE_TERM_GRACE_S, 5)."""
    try:
        return max(0.0, float(os.environ.get("EDGETUNE_TERM_GRACE_S", "5")))
    except ValueError:
        return 5.0


def _on_signal(signum: int) -> None:
    global _grace
    again = "Ctrl-C" if signum == signal.SIGINT else "the signal"
    if stop.requested():
        _stop_now(f"{again} again")
    stop.request()
    if signum == signal.SIGTERM:
        grace = term_grace_s()
        print(f"edgetune: stopping after the current {_unit} if it ends within {grace:g} s, else "
              "at once (the signal again to stop now)", file=sys.stderr, flush=True)  # fmt: skip
        _grace = threading.Timer(grace, _stop_now, [f"the {_unit} outlasted SIGTERM's {grace:g} s"])
        _grace.daemon = True
        _grace.start()
        return
    print(f"edgetune: stopping after the current {_unit} ({again} again to stop now)",
          file=sys.stderr, flush=True)  # fmt: skip


def _stop_now(why: str) -> None:
    print(f"edgetune: stopped at once ({why}): what was measured before the current {_unit} is "
          f"kept; the same command resumes:\n  {stop.resume_command()}", file=sys.stderr,
          flush=True)  # fmt: skip
    os._exit(stop.INTERRUPTED)  # workers end when their pipes close


@contextlib.contextmanager
def sigint_spares_workers(unit: str = "batch") -> Iterator[None]:
    """Within the block, processes started from this thread (or its new threads) ignore Ctrl-C,
    and Ctrl-C or SIGTERM stops after the current `unit` of work (twice: at once).

    Ctrl-C inside the block leaves it as KeyboardInterrupt, whatever TVM turned it into.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _ensure_watcher()
    stop_if_interrupted()  # an earlier interrupt that something swallowed
    global _unit
    _unit = unit

    def on_signal(signum, frame):
        """The watcher acts (Python's C handler wrote the signal to it); a Python handler must
        exist for the C handler to catch the signal at all."""

    previous_handler = signal.signal(signal.SIGINT, on_signal)
    previous_term = signal.signal(signal.SIGTERM, on_signal)  # `kill`: the same clean stop
    previous_wakeup = signal.set_wakeup_fd(_wakeup.fileno(), warn_on_full_buffer=False)
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
        stop_if_interrupted()  # Ctrl-C after the last batch
    except Exception:
        if stop.requested():
            raise KeyboardInterrupt from None
        raise
    finally:
        if _grace is not None:  # the unit ended within a SIGTERM's grace
            _grace.cancel()
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.set_wakeup_fd(previous_wakeup)
        signal.signal(signal.SIGINT, previous_handler)
        signal.signal(signal.SIGTERM, previous_term)
        # carried out: a later tune in this process starts afresh; stopped, a second signal
        # while the workers shut down ends the process (it raised in a worker pool's __del__)
        stop.clear(ending=stop.requested())


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed (call between batches)."""
    if stop.requested():
        raise KeyboardInterrupt
