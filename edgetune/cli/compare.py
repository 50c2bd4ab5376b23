"""`edgetune compare`: edgetune vs LiteRT, latency and numerics, on the same inputs."""

from __future__ import annotations

from ..oracle import compare_with_litert, comparison_lines
from ..runtime.timing import DEFAULT_CALLS, MIN_TIMED_S
from .args import add_board_arg, board_from_args
from .examples import help_extras
from .model_args import add_model_arg, model_and_records
from .numbers import POSITIVE
from .output import report, status
from .output_args import add_json_arg
from .steps_arg import add_steps_arg


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="compare edgetune with LiteRT (latency and numerics)",
        description="Build the model with its records and run it next to LiteRT's interpreter "
        "(XNNPACK, same thread count) on the same inputs: latency of both, and numerical "
        "agreement (max abs diff for float outputs; LSB histogram and top-5 agreement for "
        "quantized ones). Host board only: LiteRT runs here. Each engine is timed in a process "
        "of its own (TVM's spinning thread pool would slow LiteRT in the same process), "
        "--rounds times in alternation, --repeat calls each time.",
        **help_extras("compare"),
    )
    add_model_arg(p, ("inputs", "records"))
    add_board_arg(p)
    p.add_argument("--records", help="records folder (omit: untuned build)")
    p.add_argument("--input", action="append", help="input .npy, one per model input (random)")
    p.add_argument(
        "--repeat",
        type=POSITIVE,
        help=f"timed runs per round (default: {DEFAULT_CALLS}, or as many more as fill "
        f"{MIN_TIMED_S:g} s: a model of microseconds timed for a few ms measures the thread "
        "pool's wake-up)",
    )
    p.add_argument("--rounds", type=POSITIVE, default=3, help="processes per engine (default 3)")
    p.add_argument("--threads", type=POSITIVE, help="threads for both (default: board cores)")
    add_steps_arg(p, writes_outputs=False)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    model, store = model_and_records(args, board)
    status(f"building {model.info.name} and loading LiteRT ...")
    threads = args.threads or board.hardware.cores
    result = compare_with_litert(
        model, board, store, args.input, args.repeat, threads, args.rounds, args.steps
    )
    report(args, result, comparison_lines(result))
    return 0
