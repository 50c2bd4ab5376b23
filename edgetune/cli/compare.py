"""`edgetune compare`: edgetune vs LiteRT, latency and numerics, side by side in one process."""

from __future__ import annotations

from ..compile import build_model
from ..errors import BoardError
from ..frontend import load_model
from ..oracle import LiteRTModel, agreement
from ..records import RecordStore
from ..runtime import load_executable, load_inputs
from .common import (
    add_board_arg,
    add_json_arg,
    add_model_arg,
    board_from_args,
    model_path,
    print_json,
    print_table,
    status,
)


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare edgetune with LiteRT (latency and numerics)",
        description="Build the model with its records and run it next to LiteRT's interpreter "
        "(XNNPACK, same thread count) in one process, on the same inputs: latency of both, and "
        "numerical agreement (max abs diff for float outputs; LSB histogram and top-5 agreement "
        "for quantized ones). Host board only: LiteRT runs here.",
    )
    add_model_arg(p)
    add_board_arg(p)
    p.add_argument("--records", help="records folder (omit: untuned build)")
    p.add_argument("--input", action="append", help="input .npy (default: random)")
    p.add_argument("--repeat", type=int, default=50, help="timed runs of each (default 50)")
    p.add_argument("--threads", type=int, help="threads for both (default: board cores)")
    add_json_arg(p)
    p.set_defaults(func=run)


def compare(model, board, store, input_paths, repeat: int, threads: int) -> dict:
    """Build, run both engines on the same inputs, and return the comparison."""
    exe, tuned, total = build_model(model, board, store)
    ours = load_executable(exe, threads)
    reference = LiteRTModel(model.path, threads)
    inputs = load_inputs(model.info, input_paths)
    out_ours, out_ref = ours(inputs), reference(inputs)
    lat_ours, lat_ref = ours.bench(inputs, repeat), reference.bench(inputs, repeat)
    return {
        "model": model.info.name,
        "board": board.name,
        "threads": threads,
        "tuned_tasks": tuned,
        "total_tasks": total,
        "edgetune": lat_ours.to_json(),
        "litert": lat_ref.to_json(),
        "speedup_vs_litert": lat_ref.median_ms / lat_ours.median_ms,
        "agreement": [
            agreement(a, b).to_json() | {"describe": agreement(a, b).describe()}
            for a, b in zip(out_ours, out_ref)
        ],
    }


def run(args) -> int:
    board = board_from_args(args)
    if not board.is_host:
        raise BoardError(f"compare runs LiteRT on this machine: use --board host, not {board.name}")
    model = load_model(model_path(args.model))
    store = RecordStore(args.records, model.info, board, create=False) if args.records else None
    status(f"building {model.info.name} and loading LiteRT ...")
    result = compare(
        model, board, store, args.input, args.repeat, args.threads or board.hardware.cores
    )
    if args.json:
        print_json(result)
        return 0
    rows = [
        {
            "engine": f"edgetune ({result['tuned_tasks']}/{result['total_tasks']} tasks tuned)",
            **{k: f"{v:.3f}" for k, v in result["edgetune"].items() if k.endswith("_ms")},
        },
        {
            "engine": "LiteRT (XNNPACK)",
            **{k: f"{v:.3f}" for k, v in result["litert"].items() if k.endswith("_ms")},
        },
    ]
    print(f"{model.info.name} on {board.name}, {result['threads']} thread(s):")
    print_table(rows, ["engine", "median_ms", "p90_ms", "min_ms"])
    print(f"edgetune / LiteRT latency: {1 / result['speedup_vs_litert']:.2f}x")
    for i, a in enumerate(result["agreement"]):
        print(f"output {i}: {a['describe']}")
    return 0
