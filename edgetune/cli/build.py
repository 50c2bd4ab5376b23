"""`edgetune build`: compile a whole model with its best records into a board's .so."""

from __future__ import annotations

import shlex

from ..compile import build_library
from ..errors import InputError
from .args import add_board_arg, board_from_args
from .examples import help_extras
from .library_args import library_from_args
from .model_args import add_model_arg, model_and_records
from .output import status


def register(sub) -> None:
    p = sub.add_parser(
        "build",
        help="compile a model for a board with its tuning records",
        description="Compile the whole model for the board, applying the best record of every "
        "tuned task (untuned tasks keep a correct default schedule), and link it with the "
        "board's toolchain into a shared library that carries its own metadata (inputs, "
        "outputs, dtypes, quantization) for `edgetune run` and `edgetune deploy`.",
        **help_extras("build"),
    )
    add_model_arg(p, ("records",))
    add_board_arg(p)
    p.add_argument("--records", help="records folder from `edgetune tune` (omit: untuned)")
    p.add_argument(
        "--library",
        nargs="?",
        const="",
        metavar="DIR",
        help="also take the best record of tasks the records lack from the records library "
        "(DIR omitted: the default one, $EDGETUNE_LIBRARY or ~/.cache/edgetune/library)",
    )
    p.add_argument(
        "--no-library",
        action="store_true",
        help="use no records library (the default; accepted as `tune` takes it)",
    )
    p.add_argument("-o", "--output", required=True, help="output library, e.g. model.so")
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    board.check_toolchain()  # before the model is read: a missing compiler is the first line
    if args.library is not None and args.no_library:
        raise InputError("--library and --no-library: give one of them")
    library = library_from_args(args, board, read_only=True) if args.library is not None else None
    model, store = model_and_records(args, board)
    how = f" ({model.info.arithmetic})" if model.info.arithmetic else ""
    status(f"building {model.info.name} for {board.name}{how} ...")
    lib = build_library(model, board, store, args.output, library)
    for note in lib.notes:
        status(note)
    size = lib.path.stat().st_size / 1e6
    print(f"wrote {lib.path} ({size:.1f} MB) for {board.name}: {lib.tuned}/{lib.total} tasks tuned")
    where = [] if args.board == "host" else ["--board", args.board]
    print("next: " + shlex.join(["edgetune", "run", str(lib.path), *where]))  # times it there
    return 0
