"""The model argument shared by the subcommands: the .tflite, its input shapes, how its int8
convs requantize, and loading it (with its --records folder)."""

from __future__ import annotations

import argparse

from ..board import Board
from ..paths import MODELS_DIR
from ..quant.float_requantization import REQUANTIZATIONS

SHAPES_FROM = {  # where a command's input shapes come from when --input-shape is not given
    "inputs": "the --input files' shapes",
    "records": "those the --records folder was tuned with",
}


def add_model_arg(parser: argparse.ArgumentParser, shapes_from: tuple[str, ...] = ()) -> None:
    """The model and its --input-shape (whose default is said from `shapes_from`, SHAPES_FROM
    keys, as the command takes them) and --requantize options."""
    shipped = ", ".join(sorted(p.stem for p in MODELS_DIR.glob("*.tflite")))
    parser.add_argument(
        "model", help=f"a .tflite file, or the name of a model shipped with edgetune ({shipped})"
    )
    sources = [SHAPES_FROM[k] for k in shapes_from]
    shape_help = (
        "fix dynamic (-1) input dimensions: NAME=1,224,224,3 (default: "
        f"{', else '.join([*sources, 'a dynamic batch of 1; other dynamic dimensions need it'])})"
    )
    parser.add_argument("--input-shape", action="append", metavar="NAME=D0,D1,...", help=shape_help)
    default = (
        "the --records folder's, else fixed-point" if "records" in shapes_from else "fixed-point"
    )
    parser.add_argument(
        "--requantize",
        choices=REQUANTIZATIONS,
        help="int8 models: how the convs requantize. fixed-point: TFLite's integer math, "
        "bit-exact with LiteRT's reference kernels; fp32: XNNPACK's (LiteRT's default CPU "
        f"kernels), faster on x86 (default: {default})",
    )


def model_from_args(args: argparse.Namespace):
    """The model argument, loaded, dynamic dimensions fixed by --input-shape or --input .npy."""
    from ..frontend import find_model, load_model
    from ..frontend.tflite_import import requested_shapes
    from ..records.manifest import tuned_input_shapes

    path = find_model(args.model)
    given, inputs = args.input_shape, getattr(args, "input", None)
    if not given and not inputs:  # the shapes the --records folder was tuned with
        given = tuned_input_shapes(getattr(args, "records", None), path) or None
    shapes = requested_shapes(path, given, inputs)
    return load_model(path, input_shapes=shapes, requantization=requantization_of(args))


def requantization_of(args: argparse.Namespace) -> str:
    """--requantize, else the one the --records folder was tuned with, else fixed-point."""
    from ..records.manifest import tuned_requantization

    return args.requantize or tuned_requantization(getattr(args, "records", None))


def model_and_records(args: argparse.Namespace, board: Board):
    """The model argument, loaded, and its --records folder opened for reading (or None)."""
    from ..records import RecordStore

    model = model_from_args(args)
    records = args.records and RecordStore(args.records, model.info, board, create=False)
    return model, records or None
