"""`edgetune tune`: tune a model's tasks on a board into a records folder (resumable)."""

from __future__ import annotations

from .. import stop
from ..records import RecordStore
from ..records.manifest import check_existing
from ..report.live import progress_display
from ..search import tune_model
from ..search.tune import check_tune
from .args import add_board_arg, add_measure_args, board_from_args
from .examples import help_extras
from .library_args import add_library_args, library_from_args
from .model_args import add_model_arg, model_from_args
from .numbers import COUNT
from .output import report, status
from .output_args import add_json_arg, add_quiet_arg
from .resume import build_command, interrupted, resume_command
from .search_args import add_search_args


def register(sub) -> None:
    p = sub.add_parser(
        "tune",
        help="tune a model on a board (resumable)",
        description="Extract the model's tasks and search schedules for them with MetaSchedule "
        "(evolutionary search guided by XGBoost cost models, one per task family, and a "
        "gain-driven task scheduler; see --search), timing candidates on the board. Every "
        "measurement is appended to the records folder as soon as its batch is measured: "
        "Ctrl-C and the same command again resumes, and --trials is the total for the folder, "
        "so nothing is measured twice. Every measurement also goes to the board's records "
        "library: tasks it knows are reused (0 trials), similar ones start from their family's. "
        "At the end each task's best candidates are re-measured together (--final-top).",
        **help_extras("tune"),
    )
    add_model_arg(p, ("records",))
    add_board_arg(p)
    p.add_argument("--trials", type=COUNT, default=200, help="total measured trials (default 200)")
    p.add_argument("--records", required=True, help="records folder (created if missing)")
    add_search_args(p)
    add_library_args(p)
    add_quiet_arg(p)
    add_measure_args(p)
    add_json_arg(p)
    p.set_defaults(func=run, parser=p)  # resume_command reads its options


def run(args) -> int:
    board = board_from_args(args)
    board.check_toolchain()  # before the records folder is created
    library = library_from_args(args, board)  # a refused library fails before any work
    model = model_from_args(args)
    check_existing(args.records, model.info, board)  # another board's: said before the farm's
    check_tune(board, args.search, args.warm_start)  # before the records folder is made
    store = RecordStore(args.records, model.info, board)
    stop.resumes_with(resume_command(args))  # also what a stop at once prints
    done = store.summary().measured
    how = f", {model.info.arithmetic}" if model.info.arithmetic else ""
    if not args.quiet:
        status(
            f"tuning {model.info.name} on {board.name}: {args.trials} trials in {args.records} "
            f"({done} already measured{how})"
        )
    if board.measure.timing_note:
        status(f"note: {board.measure.timing_note}")
    try:
        with progress_display(f"{model.info.name} on {board.name}", args.quiet, args.json) as show:
            result = tune_model(model, board, store, args.trials, seed=args.seed,
                                per_round=args.per_round, on_batch=show,
                                printer=None if args.quiet else status,
                                search=args.search, warm_start=args.warm_start,
                                library=library, final_top=args.final_top)  # fmt: skip
    except KeyboardInterrupt:
        return interrupted(args, store)
    then = None if result.exit_code else build_command(args)  # what to run next
    lines = result.lines() + ([f"next: {then}"] if then else [])
    report(args, {**result.to_json(), "next": then}, lines)
    return result.exit_code
