"""`edgetune space`: the search space a board's rule set gives one task."""

from __future__ import annotations

from .numbers import COUNT

DEFAULT_MODEL = "mobilenet_v2_fp32"


def register(sub) -> None:
    p = sub.add_parser(
        "space",
        help="show the sketches and sampled programs a board's rule set gives one task",
        description="Print, for one task, the rule set used, the sketches it derives (loop "
        "structure before annotation; tile sizes are one random draw) and a few sampled "
        "annotated programs (tile sizes, thread binding, vectorize and unroll drawn, "
        "postprocessors applied).",
    )
    p.add_argument("task", help="task name or index, as listed by `edgetune tasks`")
    p.add_argument("--board", required=True, help="board name or .toml path")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"TFLite model (default {DEFAULT_MODEL})")
    p.add_argument("--samples", type=COUNT, default=2, help="annotated programs to draw (2)")
    p.add_argument("--seed", type=COUNT, default=1, help="seed of sketches and samples (1)")
    p.add_argument("--script", action="store_true", help="print TVMScript, not loop trees")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..board import load_board
    from ..frontend import find_model, load_model
    from ..rules.show import describe_space
    from ..tasks import for_model

    board = load_board(args.board)
    model = load_model(find_model(args.model))
    tasks = for_model(model, board).tasks
    print("\n".join(describe_space(board, tasks, args.task, args.samples, args.seed, args.script)))
    return 0
