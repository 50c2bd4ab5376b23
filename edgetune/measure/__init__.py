"""Measuring on boards: building candidates on the host and timing them on the board, and
running built models there.

`backend(board)` is what the board's connection kind does (see backend.py); `make_builder(board)`
and `make_runner(board)` pick the MetaSchedule Builder/Runner from it (`Measurers` keeps both
for a tune's phases), `run_artifact` runs a built model; new connection kinds register a
Backend with `register_backend`.
"""

from .backend import (
    Backend,
    Measurers,
    backend,
    make_builder,
    make_runner,
    register_backend,
    run_artifact,
)

__all__ = [
    "Backend",
    "Measurers",
    "backend",
    "make_builder",
    "make_runner",
    "register_backend",
    "run_artifact",
]
