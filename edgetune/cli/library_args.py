"""Arguments of the commands that use the records library: --library DIR, --no-library."""

from __future__ import annotations

import argparse

from ..board import Board


def add_library_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("records library (every tune adds to it; docs/search.md)")
    group.add_argument(
        "--library",
        metavar="DIR",
        help="records library to use (default: $EDGETUNE_LIBRARY, else "
        "~/.cache/edgetune/library; share one across a team or CI runner)",
    )
    group.add_argument("--no-library", action="store_true", help="use no records library")


def library_from_args(args: argparse.Namespace, board: Board):
    """The board's records library named by --library (default folder) for the model's
    requantization, None with --no-library."""
    from ..records import open_library
    from .model_args import requantization_of

    if args.no_library:
        return None
    return open_library(args.library, board, requantization_of(args))
