"""Ctrl-C during tuning: interrupt edgetune, not the worker processes it started.

A terminal's Ctrl-C sends SIGINT to every process in the foreground group, so MetaSchedule's
build and run workers would die mid-import with tracebacks of their own. While tuning, SIGINT is
blocked in the threads that start workers (children inherit the signal mask, so they never see
it) and delivered to an idle watcher thread instead; CPython then raises KeyboardInterrupt in
the main thread, at the next point where it runs Python code (a callback after a batch).
When that point is inside a MetaSchedule callback, TVM's FFI turns the KeyboardInterrupt into a
RuntimeError; the handler remembers the signal so that the caller re-raises KeyboardInterrupt.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

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
    interrupted = threading.Event()

    def on_sigint(signum, frame):
        interrupted.set()
        raise KeyboardInterrupt

    previous_handler = signal.signal(signal.SIGINT, on_sigint)
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    except Exception:
        if interrupted.is_set():
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        signal.signal(signal.SIGINT, previous_handler)
