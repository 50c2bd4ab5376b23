"""`edgetune run`: run a built artifact, write its outputs, report latency."""

from __future__ import annotations

from ..measure import run_artifact
from .args import add_board_arg, add_run_io_args, board_from_args
from .examples import help_extras
from .output import check_run_output, report_run, status
from .output_args import add_json_arg
from .steps_arg import add_steps_arg


def register(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run a built model and time it",
        description="Load a library made by `edgetune build`, run it on the inputs (.npy, one "
        "per model input; random if omitted), write the outputs and report median/p90 latency. "
        "On a farm board (--board rpi3, qemu-a53, ...) it runs there, through the farm. A "
        "streaming model (resource variables) keeps its state between the --steps N "
        "invocations of one run, on the host and on farm boards alike; e.g. "
        "`edgetune run kws.so --board rpi3 --input frames.npy --steps 4` with frames.npy "
        "[4, 1, 3, 40] (input [1, 3, 40]) feeds one frame per step and writes [4, ...] outputs.",
        **help_extras("run"),
    )
    p.add_argument("artifact", help="library built by `edgetune build`")
    add_board_arg(p)
    add_run_io_args(p, repeat=None)
    add_steps_arg(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    check_run_output(args)
    status(f"running {args.artifact} on {board.name} ...")
    result = run_artifact(board, args.artifact, args.input, args.repeat, args.steps)
    report_run(args, result)
    return 0
