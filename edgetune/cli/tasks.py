"""`edgetune tasks`: the tuning tasks a model splits into on a board."""

from __future__ import annotations

from ..compile import lower_for_tuning
from ..frontend import load_model
from ..tasks import extract_tasks
from .common import (
    add_board_arg,
    add_json_arg,
    add_model_arg,
    board_from_args,
    model_path,
    print_json,
    print_table,
)


def register(sub) -> None:
    p = sub.add_parser(
        "tasks",
        help="list a model's tuning tasks",
        description="Import the model, fuse it as the build does, and list every tuning task: "
        "name, weight (how often the model calls it), FLOPs per call, the anchor op and its "
        "input dtypes. Heaviest (weight x FLOPs) first.",
    )
    add_model_arg(p)
    add_board_arg(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    model = load_model(model_path(args.model))
    target = board.target()
    tasks = extract_tasks(lower_for_tuning(model.mod, target), target)
    rows = [{"#": i, **t.describe()} for i, t in enumerate(tasks)]
    if args.json:
        print_json({"model": model.info.name, "board": board.name, "tasks": rows})
        return 0
    table = [
        {
            k if k != "flops" else "mflops": (f"{v / 1e6:.2f}" if k == "flops" else v)
            for k, v in r.items()
        }
        for r in rows
    ]
    print_table(table, list(table[0]) if table else [])
    total = sum(t.flops * t.weight for t in tasks)
    print(f"{len(tasks)} tasks, {sum(t.weight for t in tasks)} calls, {total / 1e6:.1f} MFLOPs")
    return 0
