"""`edgetune profile`: each kernel's time inside the built model, next to its tuned estimate."""

from __future__ import annotations

from ..tasks.task import shorten
from .args import add_board_arg, board_from_args
from .examples import help_extras
from .model_args import add_model_arg, model_and_records
from .numbers import POSITIVE
from .output import report, status, table
from .output_args import add_json_arg

COLUMNS = ["kernel", "calls", "ms", "of_kernels", "estimate_ms", "x_estimate"]


def register(sub) -> None:
    p = sub.add_parser(
        "profile",
        help="time every kernel inside the built model, next to its tuned estimate",
        description="Build the model with its records, run it whole and time every kernel "
        "call as it runs inside the model (after the kernels before it, with the caches they "
        "left), next to the latency its task was tuned to (an isolated, repeated run). Shows "
        "each kernel's share, the time outside kernels (the VM's own work), and a line saying "
        "where the model loses time. The host board runs here; a farm board with SSH runs the "
        "model on the board (edgetune's agent over SSH, emulated boards labelled EMULATED).",
        **help_extras("profile"),
    )
    add_model_arg(p, ("inputs", "records"))
    add_board_arg(p)
    p.add_argument("--records", help="records folder (omit: untuned, no estimates)")
    p.add_argument("--input", action="append", help="input .npy, one per model input (random)")
    p.add_argument("--runs", type=POSITIVE, default=20, help="profiled runs (default 20)")
    p.add_argument("--threads", type=POSITIVE, help="threads (default: board cores)")
    p.add_argument("--top", type=POSITIVE, default=20, help="kernels shown in the table (20)")
    p.add_argument("--accept-new-host-key", action="store_true", help="trust an unknown SSH key")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..profile import profile_model

    board = board_from_args(args)
    model, store = model_and_records(args, board)
    status(f"building and profiling {model.info.name} on {board.name} ...")
    prof = profile_model(
        model, board, store, args.input, args.runs, args.threads, args.accept_new_host_key
    )
    rows = [
        {
            "kernel": shorten(k.kernel),  # whole in --json
            "calls": k.calls,
            "ms": _ms(k.ms),
            "of_kernels": f"{100 * k.share:.1f}%",  # of the kernels' time, not the whole's
            "estimate_ms": _ms(k.estimate_ms) if k.estimate_ms is not None else "-",
            "x_estimate": f"{k.ms / k.estimate_ms:.2f}" if k.estimate_ms else "-",
        }
        for k in prof.kernels[: args.top]
    ]
    more = len(prof.kernels) - len(rows)
    lines = table(rows, COLUMNS) + ([f"... {more} more kernels (--top)"] if more > 0 else [])
    report(args, prof.to_json(), [*lines, prof.verdict()])
    return 0


def _ms(value: float) -> str:
    """Milliseconds, with microseconds kept for small kernels."""
    return f"{value:.3f}" if value >= 0.1 else f"{value:.4f}"
