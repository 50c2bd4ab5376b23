"""Arguments of the commands that use the records library: --library DIR, --no-library."""

from __future__ import annotations

import argparse
from pathlib import Path

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


def library_from_args(args: argparse.Namespace, board: Board, read_only: bool = False):
    """The board's records library named by --library (default folder) for the model's
    requantization, None with --no-library. A command that only reads it (`read_only`) refuses
    a --library that is not there (a typo would show every task as new)."""
    from ..records import open_library
    from .model_args import requantization_of

    if args.no_library:
        return None
    if read_only and args.library:
        named_library(args.library)
    return open_library(args.library or None, board, requantization_of(args))


def named_library(text: str) -> Path:
    """A --library folder given to a command that only reads it: it must exist (a typo would
    read as an empty library)."""
    from ..errors import InputError

    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"library {text} is a file, not a folder: name a folder for --library")
    if not path.is_dir():
        raise InputError(
            f"no records library at {text} (not a folder): a typo? The first `edgetune tune "
            f"--library {text}` creates it"
        )
    return path
