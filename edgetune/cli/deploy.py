"""`edgetune deploy m.so --board B`: push a built model to a board, run it there, report."""

from __future__ import annotations

from ..board import load_board
from .args import add_run_io_args
from .examples import help_extras
from .output import check_run_output, report_run, status
from .output_args import add_json_arg
from .steps_arg import add_steps_arg


def register(sub) -> None:
    p = sub.add_parser(
        "deploy",
        help="push a built model to a board over SSH, run it there, report",
        description="Copy a library made by `edgetune build` to the board (over SSH, or through "
        "the rpc tracker for boards without SSH such as qemu-a53), run it on the inputs (.npy; "
        "random if omitted) and report outputs and latency measured on the board.",
        **help_extras("deploy"),
    )
    p.add_argument("artifact", help="library built by `edgetune build`")
    p.add_argument("--board", required=True, help="board name or board .toml file")
    add_run_io_args(p, repeat=10)
    add_steps_arg(p)
    p.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust and record an SSH host key not yet in the board's known_hosts file",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..farm.remote_run import deploy

    board = load_board(args.board)
    check_run_output(args)
    status(f"deploying {args.artifact} to {board.name} ...")
    result = deploy(
        board, args.artifact, args.input, args.repeat, args.accept_new_host_key, args.steps
    )
    report_run(args, result)
    return 0
