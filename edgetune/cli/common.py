"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from ..board import Board, load_board
from ..errors import ModelError
from ..paths import MODELS_DIR


def add_model_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        help="a .tflite file, or the name of a model shipped with edgetune "
        f"({', '.join(sorted(p.stem for p in MODELS_DIR.glob('*.tflite')))})",
    )


def add_board_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--board", default="host", help="board name (see `edgetune boards`) or a board .toml file"
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def add_measure_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("measurement (defaults from the board file)")
    group.add_argument(
        "--build-timeout", type=float, metavar="S", help="seconds per candidate build"
    )
    group.add_argument("--run-timeout", type=float, metavar="S", help="seconds per candidate run")
    group.add_argument("--build-workers", type=int, metavar="N", help="parallel candidate builds")


def model_path(name: str) -> Path:
    """A model argument as a path: an existing file, or a shipped model's name."""
    path = Path(name)
    if path.exists() or path.suffix == ".tflite" or "/" in name:
        return path
    shipped = MODELS_DIR / f"{name}.tflite"
    if shipped.is_file():
        return shipped
    raise ModelError(f"model not found: {name} (a .tflite path or a shipped model name)")


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


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned text table."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def status(message: str) -> None:
    """Progress and status lines go to stderr, so stdout stays clean for --json."""
    print(message, file=sys.stderr, flush=True)
