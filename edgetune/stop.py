"""Whether this process was asked to stop (Ctrl-C or SIGTERM), or lost the board it tunes on.

The signal handlers raise KeyboardInterrupt where the main thread happens to be; if that is
inside a Python function TVM's C++ called, TVM may turn it into an error of its own that some
code catches, and the interrupt would be lost. The request is also kept here, so the next
clean place to stop (`search.interrupt`) still stops.
"""

from __future__ import annotations

import threading

from .errors import BoardLost

_requested = threading.Event()
_lost: list[BoardLost] = []


def request() -> None:
    """Record that the user asked this process to stop."""
    _requested.set()


def requested() -> bool:
    return _requested.is_set()


def clear() -> None:
    """The stop has been carried out (a later tune in this process starts afresh)."""
    _requested.clear()


def lose_board(err: BoardLost) -> BoardLost:
    """Keep `err` (a runner raises it from a candidate's future, which TVM passes on as a
    RuntimeError with its message only) for `lost_board`; returns it to be raised."""
    _lost.append(err)
    return err


def lost_board() -> BoardLost | None:
    """The board lost since the last call, if any (then forgotten)."""
    return _lost.pop() if _lost else None
