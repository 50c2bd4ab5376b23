"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import TYPE_CHECKING, Any

from ..board import Board, load_board
from ..paths import MODELS_DIR

if TYPE_CHECKING:
    from ..runtime.result import RunResult


def add_model_arg(parser: argparse.ArgumentParser) -> None:
    shipped = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.tflite")))
    parser.add_argument(
        "model", help=f"a .tflite file, or the name of a model shipped with edgetune ({shipped})"
    )


def add_board_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--board", default="host", help="board name (see `edgetune boards`) or a board .toml file"
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_run_io_args(parser: argparse.ArgumentParser, repeat: int) -> None:
    parser.add_argument("--input", action="append", help="input .npy (repeat for several inputs)")
    parser.add_argument("--output", help="where to write the outputs (.npy; .npz for several)")
    parser.add_argument("--repeat", type=int, default=repeat, help=f"timed runs (default {repeat})")


def add_measure_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("measurement (defaults from the board file)")
    group.add_argument(
        "--build-timeout", type=float, metavar="S", help="seconds per candidate build"
    )
    group.add_argument("--run-timeout", type=float, metavar="S", help="seconds per candidate run")
    group.add_argument("--build-workers", type=int, metavar="N", help="parallel candidate builds")


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


def report(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    """A command's result: JSON on stdout with --json, else the lines for a person."""
    if getattr(args, "json", False):
        json.dump(data, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))


def report_run(args: argparse.Namespace, result: RunResult) -> None:
    """`run`/`deploy`: write the outputs if asked, then report the run."""
    from ..runtime import save_outputs

    if args.output:
        save_outputs(args.output, result.outputs)
    lines = result.lines() + ([f"outputs written to {args.output}"] if args.output else [])
    report(args, result.to_json(), lines)


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """A plain aligned text table, as lines."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    return [
        "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in [columns, *cells]
    ]


def status(message: str) -> None:
    """Progress and status lines go to stderr, so stdout stays clean for --json."""
    print(message, file=sys.stderr, flush=True)
