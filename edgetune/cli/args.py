"""Arguments shared by the subcommands: board, measurement overrides, I/O, --json (the model's:
model_args)."""

from __future__ import annotations

import argparse
import dataclasses

from ..board import Board, load_board
from .numbers import POSITIVE, seconds


def add_board_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--board",
        default="host",
        help="board name (see `edgetune boards`) or a board .toml file (default: host, this "
        "machine)",
    )


class _Version(argparse.Action):
    """--version: edgetune's and TVM's versions, read (package metadata, ~30 ms) only when
    asked, not at every command's start."""

    def __init__(self, option_strings: list[str], dest: str, **_kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .. import version_text

        print(version_text())
        parser.exit()


def add_version_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=_Version)


def add_verbose_arg(parser: argparse.ArgumentParser) -> None:
    """--verbose/-v before the command, or after it (and its subcommand: `farm up -v`)."""
    help_text = "show tracebacks and TVM logs"
    parser.add_argument("--verbose", "-v", action="store_true", help=help_text)
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            for sub in getattr(action, "choices", None) or {}:
                if isinstance(action, argparse._SubParsersAction):
                    child = action.choices[sub]
                    child.add_argument("--verbose", "-v", action="store_true",
                                       default=argparse.SUPPRESS, help=help_text)  # fmt: skip
                    pending.append(child)


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_run_io_args(parser: argparse.ArgumentParser, repeat: int) -> None:
    parser.add_argument("--input", action="append", help="input .npy (repeat for several inputs)")
    parser.add_argument("--output", help="where to write the outputs (.npy; .npz for several)")
    parser.add_argument(
        "--repeat", type=POSITIVE, default=repeat, help=f"timed runs (default {repeat})"
    )


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
