"""Measuring candidates: building them on the host and running them on the board.

`make_builder(board)` and `make_runner(board)` pick the MetaSchedule Builder/Runner for a board's
connection kind; new connection kinds register a runner factory with `register_runner`.
"""

from .builder import make_builder
from .runner import make_runner, register_runner

__all__ = ["make_builder", "make_runner", "register_runner"]
