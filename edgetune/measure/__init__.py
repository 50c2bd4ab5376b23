"""Measuring candidates: building them on the host and running them on the board.

`backend(board)` is what the board's connection kind does (see backend.py); `make_builder(board)`
and `make_runner(board)` pick the MetaSchedule Builder/Runner from it; new connection kinds
register a Backend with `register_backend`.
"""

from .backend import Backend, backend, make_builder, make_runner, register_backend

__all__ = ["Backend", "backend", "make_builder", "make_runner", "register_backend"]
