"""Boards and toolchains: data files (boards/*.toml, toolchains/*.toml) turned into objects."""

from .board import Board, Connection, Hardware, MeasureSettings, known_boards, load_board
from .toolchain import Toolchain, load_toolchain

__all__ = [
    "Board",
    "Connection",
    "Hardware",
    "MeasureSettings",
    "Toolchain",
    "known_boards",
    "load_board",
    "load_toolchain",
]
