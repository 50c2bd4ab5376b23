"""`edgetune run`: run a built artifact, write its outputs, report latency."""

from __future__ import annotations

from pathlib import Path

from ..board import Board
from ..compile import read_artifact_meta
from ..errors import BoardError
from ..measure import backend
from ..runtime import load_inputs, save_outputs
from .common import add_board_arg, add_json_arg, board_from_args, print_json, status


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a built model and time it",
        description="Load a library made by `edgetune build`, run it on the inputs (.npy, one "
        "per model input; random if omitted), write the outputs and report median/p90 latency.",
    )
    p.add_argument("artifact", help="library built by `edgetune build`")
    add_board_arg(p)
    p.add_argument("--input", action="append", help="input .npy (repeat for several inputs)")
    p.add_argument("--output", help="where to write the outputs (.npy; .npz for several)")
    p.add_argument("--repeat", type=int, default=50, help="timed runs (default 50)")
    add_json_arg(p)
    p.set_defaults(func=run)


def run_artifact(board: Board, path: str, input_paths: list[str] | None, repeat: int):
    """Outputs and latency of an artifact on a board (here, or on a farm board)."""
    meta = read_artifact_meta(path)
    if meta.board != board.name:
        raise BoardError(f"{path} was built for board '{meta.board}', not '{board.name}'")
    inputs = load_inputs(meta.model, input_paths)
    outputs, latency = backend(board).run_artifact(board, Path(path), inputs, repeat)
    return meta, outputs, latency


def run(args) -> int:
    board = board_from_args(args)
    status(f"running {args.artifact} on {board.name} ...")
    meta, outputs, latency = run_artifact(board, args.artifact, args.input, args.repeat)
    if args.output:
        save_outputs(args.output, outputs)
    report = {
        "artifact": args.artifact,
        "board": board.name,
        "model": meta.model.name,
        "latency": latency.to_json(),
        "outputs": [{"shape": list(o.shape), "dtype": str(o.dtype)} for o in outputs],
    }
    note = board.measure.timing_note
    if note:
        report["timing_note"] = note
    if args.json:
        print_json(report)
    else:
        print(f"{meta.model.name} on {board.name}: {latency}")
        if note:
            print(f"note: {note}")
        if args.output:
            print(f"outputs written to {args.output}")
    return 0
