"""`edgetune tasks`: the tuning tasks a model splits into on a board."""

from __future__ import annotations

from ..tasks import for_model
from ..tasks.task import shorten
from .args import add_board_arg, board_from_args
from .examples import help_extras
from .library_args import add_library_args, library_from_args
from .model_args import add_model_arg, model_from_args
from .output import report, table
from .output_args import add_json_arg


def register(sub) -> None:
    p = sub.add_parser(
        "tasks",
        help="list a model's tuning tasks",
        description="Import the model, fuse it as the build does, and list every tuning task: "
        "name, weight (how often the model calls it), FLOPs per call, the anchor op, its "
        "input dtypes, its kernel path (int8, qdq or float), its family (tasks that share a "
        "cost model with --search family), and whether the records library knows it (known: tune "
        "reuses it with 0 trials; similar: other shapes of its family are known; new); blocks: the "
        "TIR blocks fused into the kernel (each candidate replays its schedule over them). "
        "Heaviest (weight x FLOPs) first.",
        **help_extras("tasks"),
    )
    add_model_arg(p)
    add_board_arg(p)
    add_library_args(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    library = library_from_args(args, board, read_only=True)
    model = model_from_args(args)
    model_tasks = for_model(model, board)
    rows = [{"#": i, **t.describe()} for i, t in enumerate(model_tasks)]
    if library:
        for row, known in zip(rows, library.classify(model_tasks.tasks)):
            row["library"] = known
    shown = [{("mflops" if k == "flops" else k): v for k, v in r.items()} for r in rows]
    for r in shown:
        r["mflops"] = f"{r['mflops'] / 1e6:.2f}"
        r["name"] = shorten(r["name"])  # whole in --json
    totals = model_tasks.totals()
    if library:  # how many tasks the library knows, has similar ones of, or lacks
        totals.update(
            {k: sum(r["library"] == k for r in rows) for k in ("known", "similar", "new")}
        )
    lines = [*table(shown, list(shown[0]) if shown else []), model_tasks.summary()]
    data = {"model": model.info.name, "board": board.name, "tasks": rows, "totals": totals}
    report(args, data, lines)
    return 0
