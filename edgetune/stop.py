"""Whether this process was asked to stop (Ctrl-C or SIGTERM).

The signal handlers raise KeyboardInterrupt where the main thread happens to be; if that is
inside a Python function TVM's C++ called, TVM may turn it into an error of its own that some
code catches, and the interrupt would be lost. The request is also kept here, so the next
clean place to stop (`search.interrupt`) still stops.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request() -> None:
    """Record that the user asked this process to stop."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    """The stop has been carried out (a later tune in this process starts afresh)."""
    _requested.clear()
