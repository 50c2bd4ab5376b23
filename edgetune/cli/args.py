"""Arguments shared by the subcommands: board, measurement overrides, run I/O (the model's:
model_args; how a command speaks: output_args)."""

from __future__ import annotations

import argparse
import dataclasses

from ..board import Board, load_board
from ..runtime.timing import DEFAULT_CALLS, MIN_TIMED_S
from .numbers import POSITIVE, seconds


def add_board_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--board",
        default="host",
        help="board name (see `edgetune boards`) or a board .toml file (default: host, this "
        "machine)",
    )


def add_run_io_args(parser: argparse.ArgumentParser, repeat: int | None) -> None:
    """--input, --output and --repeat (None: as many calls as the board's backend fills, on
    the host at least DEFAULT_CALLS and MIN_TIMED_S; runtime.timing)."""
    parser.add_argument("--input", action="append", help="input .npy (repeat for several inputs)")
    parser.add_argument(
        "--output", help="where to write the outputs (.npy; .npz for several; added if missing)"
    )
    default = (
        f"{repeat}"
        if repeat
        else f"at least {DEFAULT_CALLS}, and on the host as many more as "
        f"fill {MIN_TIMED_S:g} s: a model of microseconds timed for a few ms measures the "
        "thread pool's wake-up"
    )
    parser.add_argument("--repeat", type=POSITIVE, default=repeat, help=f"timed runs ({default})")


def add_measure_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("measurement (defaults from the board file)")
    group.add_argument(
        "--build-timeout", type=seconds, metavar="S", help="seconds per candidate build"
    )
    group.add_argument("--run-timeout", type=seconds, metavar="S", help="seconds per candidate run")
    group.add_argument(
        "--build-workers", type=POSITIVE, metavar="N", help="parallel candidate builds"
    )


def board_from_args(args: argparse.Namespace) -> Board:
    """The --board, with measurement settings overridden from the command line."""
    board = load_board(args.board)
    overrides = {
        field: getattr(args, arg)
        for arg, field in (
            ("build_timeout", "build_timeout_s"),
            ("run_timeout", "run_timeout_s"),
            ("build_workers", "build_workers"),
        )
        if getattr(args, arg, None) is not None
    }
    if overrides:
        board = dataclasses.replace(board, measure=dataclasses.replace(board.measure, **overrides))
    return board
