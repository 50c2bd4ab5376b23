"""`edgetune deploy m.so --board B`: push a built model to a board, run it there, report."""

from __future__ import annotations

from ..board import load_board
from ..compile import read_artifact_meta
from ..errors import BoardError
from ..runtime import load_inputs, save_outputs
from .common import add_json_arg, print_json, status


def register(sub) -> None:
    p = sub.add_parser(
        "deploy",
        help="push a built model to a board over SSH, run it there, report",
        description="Copy a library made by `edgetune build` to the board (over SSH, or through "
        "the rpc tracker for boards without SSH such as qemu-a53), run it on the inputs (.npy; "
        "random if omitted) and report outputs and latency measured on the board.",
    )
    p.add_argument("artifact", help="library built by `edgetune build`")
    p.add_argument("--board", required=True, help="board name or board .toml file")
    p.add_argument("--input", action="append", help="input .npy (repeat for several inputs)")
    p.add_argument("--output", help="where to write the outputs (.npy; .npz for several)")
    p.add_argument("--repeat", type=int, default=10, help="timed runs on the board (default 10)")
    p.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust and record an SSH host key not yet in the board's known_hosts file",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..farm.remote_run import run_remote
    from ..farm.resources import farm_spec

    board = load_board(args.board)
    spec = farm_spec(board)
    meta = read_artifact_meta(args.artifact)
    if meta.board != board.name:
        raise BoardError(f"{args.artifact} was built for board '{meta.board}', not '{board.name}'")
    inputs = load_inputs(meta.model, args.input)
    via = "ssh" if spec.ssh is not None else "rpc"
    status(f"deploying {args.artifact} to {board.name} over {via} ...")
    outputs, latency = run_remote(
        board, args.artifact, inputs, args.repeat, args.accept_new_host_key, via=via
    )
    if args.output:
        save_outputs(args.output, outputs)
    note = board.measure.timing_note
    report = {
        "artifact": args.artifact,
        "board": board.name,
        "via": via,
        "model": meta.model.name,
        "latency": latency.to_json(),
        "emulated": spec.server.launch == "qemu",
        "timing_note": note,
        "outputs": [{"shape": list(o.shape), "dtype": str(o.dtype)} for o in outputs],
    }
    if args.json:
        print_json(report)
        return 0
    print(f"{meta.model.name} on {board.name} via {via}: {latency}")
    if note:
        print(f"note: {note}")
    for i, o in enumerate(outputs):
        print(f"  output {i}: shape {list(o.shape)} {o.dtype}")
    if args.output:
        print(f"outputs written to {args.output}")
    return 0
