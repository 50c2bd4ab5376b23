"""`edgetune space`: the search space a board's rule set gives one task."""

from __future__ import annotations

from ..errors import InputError
from .args import add_board_arg, board_from_args
from .examples import help_extras
from .model_args import add_model_arg, model_from_args
from .numbers import COUNT


def register(sub) -> None:
    p = sub.add_parser(
        "space",
        help="show the sketches and sampled programs a board's rule set gives one task",
        description="Print, for one task of the model, the rule set used, the sketches it "
        "derives (loop structure before annotation; tile sizes are one random draw) and a few "
        "sampled annotated programs (tile sizes, thread binding, vectorize and unroll drawn, "
        "postprocessors applied).",
        **help_extras("space"),
    )
    add_model_arg(p)
    p.add_argument("task", help="task name or index, as listed by `edgetune tasks MODEL`")
    add_board_arg(p)
    p.add_argument("--samples", type=COUNT, default=2, help="annotated programs to draw (2)")
    p.add_argument("--seed", type=COUNT, default=1, help="seed of sketches and samples (1)")
    p.add_argument("--script", action="store_true", help="print TVMScript, not loop trees")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..rules.show import describe_space
    from ..tasks import for_model

    if args.task.endswith(".tflite") and not args.model.endswith(".tflite"):
        raise InputError(f"space takes the model first: edgetune space {args.task} {args.model}")
    board = board_from_args(args)
    tasks = for_model(model_from_args(args), board).tasks
    print("\n".join(describe_space(board, tasks, args.task, args.samples, args.seed, args.script)))
    return 0
