"""`edgetune tune`: tune a model's tasks on a board into a records folder (resumable)."""

from __future__ import annotations

from ..records import RecordStore
from ..search import DEFAULT_SEARCH, SEARCHES, tune_model
from .args import (
    add_board_arg,
    add_json_arg,
    add_measure_args,
    add_model_arg,
    board_from_args,
    model_from_args,
)
from .output import report, status


def register(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="tune a model on a board (resumable)",
        description="Extract the model's tasks and search schedules for them with MetaSchedule "
        "(evolutionary search guided by XGBoost cost models, one per task family, and a "
        "gain-driven task scheduler; see --search), timing candidates on the board. Every "
        "measurement is appended to the records folder as soon as its batch is measured: "
        "Ctrl-C and the same command again resumes, and --trials is the total for the folder, "
        "so nothing is measured twice.",
    )
    add_model_arg(p)
    add_board_arg(p)
    p.add_argument("--trials", type=int, default=200, help="total measured trials (default 200)")
    p.add_argument("--records", required=True, help="records folder (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    p.add_argument("--per-round", type=int, help="candidates per task per round (default: auto)")
    p.add_argument(
        "--search",
        choices=SEARCHES,
        default=DEFAULT_SEARCH,
        help="family: one cost model per task family, foresee rounds, gain scheduler "
        "(FamilySeer); ms: MetaSchedule's default (one XGBoost model, gradient scheduler), for "
        f"comparison. Default {DEFAULT_SEARCH} (docs/search.md has the benchmark)",
    )
    p.add_argument(
        "--warm-start",
        metavar="RECORDS",
        help="with --search family: seed the family cost models from another records folder of "
        "the same board",
    )
    add_measure_args(p)
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    board = board_from_args(args)
    board.check_toolchain()  # before the records folder is created
    model = model_from_args(args)
    store = RecordStore(args.records, model.info, board)
    done = store.summary().records
    status(
        f"tuning {model.info.name} on {board.name}: {args.trials} trials in {args.records} "
        f"({done} already measured)"
    )
    if board.measure.timing_note:
        status(f"note: {board.measure.timing_note}")
    try:
        result = tune_model(model, board, store, args.trials, seed=args.seed,
                            per_round=args.per_round, printer=status, search=args.search,
                            warm_start=args.warm_start)  # fmt: skip
    except KeyboardInterrupt:
        status(f"edgetune: interrupted; {store.summary().records} measured trials are kept in "
               f"{store.path}: run the same command again to resume")  # fmt: skip
        return 130
    report(args, result.to_json(), result.lines())
    return 0
