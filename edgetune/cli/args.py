"""Arguments shared by the subcommands: model, board, measurement overrides, I/O, --json."""

from __future__ import annotations

import argparse
import dataclasses

from ..board import Board, load_board
from ..paths import MODELS_DIR
from ..quant.fp32_requantization import REQUANTIZATIONS


def add_model_arg(parser: argparse.ArgumentParser) -> None:
    shipped = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.tflite")))
    parser.add_argument(
        "model", help=f"a .tflite file, or the name of a model shipped with edgetune ({shipped})"
    )
    shape_help = "fix dynamic (-1) input dimensions: NAME=1,224,224,3 (default: --input shapes)"
    parser.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...", help=shape_help)
    parser.add_argument(
        "--requantize",
        choices=REQUANTIZATIONS,
        help="int8 models: how the convs requantize their int32 sums. fixed-point: TFLite's "
        "integer math, bit-exact with LiteRT's reference kernels; fp32: XNNPACK's float32 "
        "scale (LiteRT's default CPU kernels compute the same), faster on x86 "
        "(default: the --records folder's, else fixed-point)",
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


def model_from_args(args: argparse.Namespace):
    """The model argument, loaded, dynamic dimensions fixed by --input-shape or --input .npy."""
    from ..frontend import find_model, load_model
    from ..frontend.tflite_import import requested_shapes

    path = find_model(args.model)
    shapes = requested_shapes(path, args.input_shape, getattr(args, "input", None))
    return load_model(path, input_shapes=shapes, requantization=requantization_from_args(args))


def requantization_from_args(args: argparse.Namespace) -> str:
    """--requantize, else the one the --records folder was tuned with, else fixed-point."""
    from ..records.manifest import tuned_requantization

    return getattr(args, "requantize", None) or tuned_requantization(getattr(args, "records", None))


def model_and_records(args: argparse.Namespace, board: Board):
    """The model argument, loaded, and its --records folder opened for reading (or None)."""
    from ..records import RecordStore

    model = model_from_args(args)
    records = args.records and RecordStore(args.records, model.info, board, create=False)
    return model, records or None
