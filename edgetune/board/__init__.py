"""Boards and toolchains: data files (boards/*.toml, toolchains/*.toml) turned into objects."""

from .board import (
    Board,
    Connection,
    Hardware,
    MeasureSettings,
    known_boards,
    load_board,
    shadowed_boards,
)
from .toolchain import Toolchain, load_toolchain

__all__ = [
    "Board",
    "Connection",
    "Hardware",
    "MeasureSettings",
    "Toolchain",
    "known_boards",
    "shadowed_boards",
    "load_board",
    "load_toolchain",
]
