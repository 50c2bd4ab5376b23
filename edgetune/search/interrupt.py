"""Ctrl-C during tuning: interrupt edgetune, not the worker processes it started.

A terminal's Ctrl-C sends SIGINT to every process in the foreground group, so MetaSchedule's
build and run workers would die mid-import with tracebacks of their own. While tuning, SIGINT is
blocked in the threads that start workers (children inherit the signal mask, so they never see
it) and delivered to an idle watcher thread instead.

The first Ctrl-C only sets a flag (`edgetune.stop`, where an interrupt raised during start-up
and swallowed on the way is kept too): `stop_if_interrupted()`, called after each measured batch has
been written to the records, raises KeyboardInterrupt there (raising it wherever the main
thread happened to be -- inside a cost-model or search callback that TVM's C++ calls -- could
end in std::terminate, a crash with a C stack). A second Ctrl-C raises at once. TVM's FFI
turns a KeyboardInterrupt raised in a callback into a RuntimeError; the context manager turns
it back into KeyboardInterrupt for the caller.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

from .. import stop

_watcher: threading.Thread | None = None


def _ensure_watcher() -> None:
    global _watcher
    if _watcher is None:
        _watcher = threading.Thread(
            target=threading.Event().wait, name="edgetune-sigint", daemon=True
        )
        _watcher.start()


@contextlib.contextmanager
def sigint_spares_workers() -> Iterator[None]:
    """Within the block, processes started from this thread (or its new threads) ignore Ctrl-C.

    Ctrl-C inside the block leaves it as KeyboardInterrupt, whatever TVM turned it into.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _ensure_watcher()
    stop_if_interrupted()  # an earlier interrupt that something swallowed

    def on_sigint(signum, frame):
        if stop.requested():
            raise KeyboardInterrupt  # the second Ctrl-C: stop now
        stop.request()
        again = "Ctrl-C" if signum == signal.SIGINT else "the signal"
        print(
            f"edgetune: stopping after the current batch ({again} again to stop now)",
            file=sys.stderr,
            flush=True,
        )

    previous_handler = signal.signal(signal.SIGINT, on_sigint)
    previous_term = signal.signal(signal.SIGTERM, on_sigint)  # `kill`: the same clean stop
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
        stop_if_interrupted()  # Ctrl-C after the last batch
    except Exception:
        if stop.requested():
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGINT, previous_handler)
        signal.signal(signal.SIGTERM, previous_term)
        stop.clear()  # carried out: a later tune in this process starts afresh


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed (call between batches)."""
    if stop.requested():
        raise KeyboardInterrupt
