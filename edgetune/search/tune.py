"""Tune every task of a model for a board, with MetaSchedule, into a record store.

The budget is the total number of measured trials in the records folder: running the same
command again after an interruption measures only what is left, and the evolutionary search is
seeded from the records already there.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import stop
from ..errors import BoardError, BoardLost, InputError
from ..measure import Measurers, backend, make_runner
from ..measure.free_cores import ContentionWatch, contention_notes, scaled_timing
from ..records import (
    KNOWN,
    best_latency_in,
    read_batches,
    trials_by_task,
    warm_start_folder,
    write_tasks,
)
from ..rules import get_rule_set
from ..rules.rule_set import schedule_error_line
from ..tasks import MODULE_EQUALITY, Task, for_model
from ..tasks.task import shorten
from .final import FINAL_TOP, FinalPhase, final_phase
from .interrupt import sigint_spares_workers
from .kept_builds import KeptBuilds
from .library_start import LibraryStart, start_from_library
from .logs import task_loggers, without_candidates
from .progress import Progress, ProgressCallback, ms_text
from .skip_measured import MeasuredTraces, SkipMeasured
from .transfer import TransferSeeds

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import Library, RecordStore, RecordSummary

SEARCHES = ("family", "ms")
DEFAULT_SEARCH = "family"  # lower built latency in 3 of 3 seeds at 600 trials (docs/search.md)
MAX_SEARCH_BLOCKS = 100  # kernels with more blocks are not searched (`too_large`)
SMOKE_TRIALS = 4  # per-task budgets below the smallest round search with the light population


@dataclass
class TuneResult:
    """What a tuning run did."""

    tasks: list[Task]
    progress: Progress
    search: dict[str, Any]  # method and its settings (per_round, foresee, cost models restored)
    store: RecordStore
    library: LibraryStart | None = None
    added: int = 0  # records this run added to the library (an earlier run's included)
    final: FinalPhase | None = None  # the re-measured top candidates (None: --final-top 0)
    host_steal: float | None = None  # hypervisor steal share while tuning (host board only)
    others_cores: float | None = None  # cores other processes kept busy meanwhile (host only)

    @cached_property
    def after(self) -> RecordSummary:
        """What the records folder holds after the run (read once)."""
        return self.store.summary()

    def to_json(self) -> dict[str, Any]:
        after = self.after
        progress = self.progress.to_json()
        if self.library:
            for task, status in zip(progress["tasks"], self.library.status):
                task["library"] = status
        notes = [self.store.board.measure.timing_note]
        notes = [n for n in notes + contention_notes(self.host_steal, self.others_cores) if n]
        return {
            "model": self.store.model.name,
            "board": self.store.board.name,
            "emulated": self.store.board.emulated,  # its timings are an emulator's
            "timing_note": "; ".join(notes),  # as `run --json`: the board's, the host's
            "records": str(self.store.path),
            "tasks": len(self.tasks),
            "tasks_not_yet_measured": self.waiting(),
            "records_total": after.records,
            "records_valid": after.valid,
            "records_failed": after.failed,
            "search": self.search,
            "library": self.library and {**self.library.to_json(), "added": self.added},
            **progress,
            "all_failed": self.all_failed,
            "failure_reasons": dict(self.progress.failures.most_common(3)),
            "final": self.final.to_json() if self.final else None,
            # what a build uses: the final choices' estimate once the final phase ran
            "search_estimated_latency_ms": progress["estimated_latency_ms"],
            "estimated_latency_ms": self.estimate_ms(progress["estimated_latency_ms"]),
            "host_steal": self.host_steal,
            "others_cores": self.others_cores,
        }

    def estimate_ms(self, search_ms: float | None) -> float | None:
        """The estimated end-to-end latency of what `build` uses (ms): the final choices' if
        the final phase chose for every task, else the search's best records'."""
        final = self.final.estimated_latency_s if self.final else None
        return final * 1e3 if final is not None else search_ms

    @property
    def all_failed(self) -> bool:
        """Every candidate this run measured failed (a broken toolchain or board)."""
        p = self.progress
        return p.trials > 0 and p.failed_builds + p.failed_runs == p.trials

    @property
    def exit_code(self) -> int:
        return 1 if self.all_failed else 0

    def waiting(self) -> list[str]:
        """Tasks still without a measurement that more trials would reach (not those left
        untuned: too large to search, or without a search space)."""
        search = self.search
        left = {*search.get("untuned_no_space", ()), *search.get("untuned_too_large", ()),
                *search.get("untuned_no_valid_candidate", ())}  # fmt: skip
        p = self.progress
        return [n for n, b in zip(p.task_names, p.best_s) if b is None and n not in left]

    def lines(self) -> list[str]:
        """The run for a terminal."""
        p, after = self.progress, self.after
        est = p.estimated_latency_s
        waiting = self.waiting()
        return [
            f"measured {p.trials} new trials ({p.failed_builds} failed builds, {p.failed_runs} "
            f"failed runs); records: {after.records} ({after.valid} valid)",
            f"tasks measured: {p.tasks_measured}/{len(self.tasks)}; estimated end-to-end "
            f"latency: {ms_text(est)}"
            + (" (search's best records; final choices below)" if self.final else ""),
            *(
                [
                    f"note: {_tasks(len(waiting))} not measured yet ({_names(waiting)}; the "
                    "estimate needs every task): "
                    + ("it builds" if len(waiting) == 1 else "they build")
                    + " with untuned schedules; `tune` again with more --trials (it resumes "
                    "this folder) measures " + ("it" if len(waiting) == 1 else "them")
                ]
                if waiting
                else []
            ),
            *(
                [
                    "note: an estimate is the sum of the kernels' times; a call of the "
                    "whole model also pays the runtime's few microseconds per kernel call, "
                    "which weigh on a model this small (`edgetune run` times the whole, "
                    "`edgetune profile` each kernel in it)"
                ]
                if est is not None and est < SMALL_MODEL_S
                else []
            ),
            *(
                [
                    f"note: this folder already holds {p.resumed_trials} trials and --trials "
                    f"is {p.budget}, the folder's whole budget: nothing new to measure; "
                    f"--trials {p.resumed_trials + 200} measures 200 more"
                ]
                if p.trials == 0 and p.resumed_trials >= p.budget > 0
                else []
            ),
            *(
                [
                    f"error: all {p.trials} candidates of this run failed, most often: "
                    + "; ".join(f"{n} x {m}" for m, n in p.failures.most_common(2))
                    + f" (each one in {self.store.path}/logs/edgetune-batches.jsonl)"
                ]
                if self.all_failed
                else []
            ),
            *(
                f"note: {name}: no valid candidate in the board's search space (every sample "
                f"rejected by its postprocessors: {log}); it builds with the untuned schedule, "
                "more --trials will not change that"
                for name, log in self.search.get("untuned_no_valid_candidate", {}).items()
            ),
            *([library_line(self.library, self.added)] if self.library else []),
            *([self.final.line()] if self.final else []),
            *(f"note: {n}" for n in contention_notes(self.host_steal, self.others_cores)),
            # said at the start too, where a long tune scrolls it away
            *([f"note: {note}"] if (note := self.store.board.measure.timing_note) else []),
        ]


SMALL_MODEL_S = 1e-4  # estimates below this: the runtime's per-call cost is said


def _names(names: list[str], shown: int = 3) -> str:
    """The first `shown` names, and how many more."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(shorten(n) for n in names[:shown]) + more


def _tasks(count: int) -> str:
    return "1 task is" if count == 1 else f"{count} tasks are"


def _known_note(start: LibraryStart, i: int) -> str:
    """Why a task the library knows is reused or searched."""
    if start.skip[i]:
        return " (reused from the library: 0 trials)"
    if start.status[i] != KNOWN:
        return ""
    if start.here[i]:
        return " (measured in this records folder: searched as before)"
    return (
        f" (searched; the library measured it {start.measured[i]} times, in a tune of "
        f"{start.per_task[i]} trials per task)"
    )


def library_line(start: LibraryStart, added: int | None = None) -> str:
    """The library's part in a run, one line."""
    lib = start.to_json()
    text = (
        f"library {lib['path']}: {lib['known']} known, {lib['similar']} similar, "
        f"{lib['new']} new tasks; {lib['reused_records']} records reused"
    )
    return text + (f", {added} added" if added is not None else "")


def trials_per_round(budget: int, num_tasks: int) -> int:
    """Candidates measured per task per round.

    The gradient scheduler first gives every task one round; with MetaSchedule's 64 that round
    alone is 64 x tasks trials (2000+ for MobileNetV2), so the cost model never guides a search.
    Aim for the first round to use at most a quarter of the budget.
    """
    return max(4, min(64, budget // max(1, 4 * num_tasks)))


def search_strategy(
    trials_per_task: int,
    seeds: TransferSeeds | None = None,
    *,
    light: bool = False,
    measured: MeasuredTraces | None = None,
):
    """MetaSchedule's evolutionary search, sized to the budget, skipping recorded schedules.

    Each round samples and evolves a population with the cost model: 512 x 4 generations costs
    ~15 s per task on 2 cores, which dwarfs measuring a handful of candidates. Small per-task
    budgets get a smaller population so that time goes to measurements; `light` is the size
    for rounds that measure only a few candidates (the family search's foresee rounds), and for
    budgets under SMOKE_TRIALS a task, the smallest round: a task gets one round or none, and
    128 x 3 generations took 9-11 s of it on tiny models, to measure 4 candidates (at 8, a
    200-trial MobileNetV2 tune took 22 % less time but built 1.07x slower, one pair). `seeds`
    adds the library's traces of a task's family to its initial population (`search.transfer`);
    `measured` is shared by the searches of one task.
    """
    from ..tvm_api import ms

    if light or trials_per_task < SMOKE_TRIALS:
        evolutionary = ms.search_strategy.EvolutionarySearch(
            population_size=64, init_min_unmeasured=16, genetic_num_iters=1
        )
    elif trials_per_task >= 64:
        evolutionary = ms.search_strategy.EvolutionarySearch()
    else:
        evolutionary = ms.search_strategy.EvolutionarySearch(
            population_size=128, init_min_unmeasured=32, genetic_num_iters=2
        )
    return SkipMeasured(evolutionary, seeds, measured)


def check_search_options(board: Board, search: str, warm_start: str | None) -> None:
    """InputError or RecordsError for a search or --warm-start that cannot work."""
    if search not in SEARCHES:
        raise InputError(f"unknown search '{search}' (choose from {', '.join(SEARCHES)})")
    if warm_start and search != "family":
        raise InputError("--warm-start needs --search family (it seeds the family cost models)")
    if warm_start:
        warm_start_folder(warm_start, board)


def check_tune(board: Board, search: str, warm_start: str | None) -> None:
    """What `tune` checks before it creates the records folder: the search options, and that a
    farm board can take candidates now (BoardError: a refused tune claims no folder)."""
    check_search_options(board, search, warm_start)
    try:
        get_rule_set(board.rule_set)
    except BoardError as err:  # a board file's typo: name the file
        raise BoardError(f"board file {board.path or board.name}: rule_set: {err}") from None
    if (reachable := backend(board).reachable) is not None:
        reachable(board)


def _tuned_with(board: Board, search: str) -> dict[str, Any]:
    """The board, toolchain, search and software versions of this run (for `report`)."""
    from importlib.metadata import version

    import tvm

    from .. import __version__

    toolchain = board.toolchain()
    return {
        "board": board.name,
        "emulated": board.emulated,
        "timing_note": board.measure.timing_note,
        "target": str(board.target()),
        "rule_set": board.rule_set,
        "toolchain": {"name": toolchain.name, "cc": toolchain.cc, "triple": toolchain.triple},
        "search": search,
        "edgetune": __version__,
        "tvm": tvm.__version__,
        "tvm_ffi": version("apache-tvm-ffi"),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def spaceless(tasks: list[Task], ids: list[int], board: Board) -> dict[int, str]:
    """Tasks (of `ids`) whose search space the board's rule set cannot generate: index -> what
    the schedule error says (`schedule_error_line`). MetaSchedule generates every task's space
    before it measures anything, and one failing rule would end the whole run; such a task keeps
    TVM's default schedule instead (a rule set's bug, reported, not the user's)."""
    from ..tvm_api import ms, s_tir

    space = get_rule_set(board.rule_set).space(board, [tasks[i].mod for i in ids])
    target, failed = board.target(), {}
    for i in ids:
        context = ms.TuneContext(
            mod=tasks[i].mod, target=target, space_generator=space, rand_state=0
        ).clone()
        try:
            context.generate_design_space()
        except s_tir.ScheduleError as err:
            failed[i] = schedule_error_line(err)
    return failed


def too_large(tasks: list[Task], ids: list[int]) -> dict[int, str]:
    """Tasks (of `ids`) with more than MAX_SEARCH_BLOCKS blocks: index -> why they are not
    searched. Every candidate of a search replays its schedule's trace over each block (a TensorList
    LSTM's 152-block concatenation: 1.4 s a candidate here, so each evolutionary round took many
    minutes); such kernels keep TVM's default schedule."""
    found = {}
    for i in ids:
        if (blocks := tasks[i].blocks) > MAX_SEARCH_BLOCKS:
            found[i] = (
                f"{blocks} blocks (more than {MAX_SEARCH_BLOCKS}: each candidate would take"
                " seconds to generate)"
            )
    return found


def _warn(line: str) -> None:
    print(line, file=sys.stderr)


def _tune_contexts(
    tasks: list[Task], board: Board, log_dir: str, seed: int | None, strategy: Callable[[], Any]
):
    from ..tvm_api import ms

    space = get_rule_set(board.rule_set).space(board, [t.mod for t in tasks])
    target = board.target()
    loggers = task_loggers(log_dir, [t.name for t in tasks])
    return [
        ms.TuneContext(
            mod=t.mod,
            target=target,
            space_generator=space,
            search_strategy=strategy(),
            task_name=t.name,
            logger=logger,
            rand_state=rand,
            num_threads=board.measure.build_workers or "physical",
        ).clone()
        for t, logger, rand in zip(tasks, loggers, ms.utils.fork_seed(seed, n=len(tasks)))
    ]


def tune_tir(
    mod: Any,
    target: Any,
    work_dir: str | Path,
    trials: int,
    *,
    builder: Any,
    runner: Any,
    database: Any,
    per_round: int = 64,
) -> None:
    """MetaSchedule's `tune_tir` for one TIR workload, with edgetune's log set-up.

    For benchmarks and farm checks that time a single kernel through a board's builder and
    runner; MetaSchedule's own `tune_tir` configures logging in a way that breaks under test
    runners (see `search.logs`).
    """
    from ..tvm_api import ms

    (logger,) = task_loggers(work_dir, ["main"])
    context = ms.TuneContext(
        mod=mod,
        target=target,
        space_generator="post-order-apply",
        search_strategy="evolutionary",
        task_name="main",
        logger=logger,
    ).clone()
    ms.tune_tasks(
        tasks=[context],
        task_weights=[1.0],
        work_dir=str(work_dir),
        max_trials_global=trials,
        num_trials_per_iter=per_round,
        builder=builder,
        runner=runner,
        database=database,
    )


def tune_model(
    model: Model,
    board: Board,
    store: RecordStore,
    trials: int,
    *,
    seed: int | None = None,
    per_round: int | None = None,
    on_batch: Callable[[Progress], None] | None = None,
    printer: Callable[[str], None] | None = None,
    task_filter: Callable[[Task], bool] | None = None,
    search: str = DEFAULT_SEARCH,
    warm_start: str | Path | None = None,
    library: Library | None = None,
    final_top: int | None = None,
) -> TuneResult:
    """Tune `model` on `board` until the records folder holds `trials` measured trials.

    `search` is "family" (per-family models, foresee rounds, see `search.family`) or "ms"
    (MetaSchedule's default: one XGBoost model, gradient scheduler); `warm_start` is another records
    folder of the same board whose family cost models seed this run's (family search only).
    With a records `library`, tasks it knows are reused (zero trials), the others start from
    their family's library records (`search.library_start`), and every measurement is added to
    it (also when interrupted); `printer` gets one line per task saying what the library knew.
    `on_batch` is called with the progress after each measured batch (default: plain lines on
    stderr). After the search (also when it had nothing left to do), the `final_top` best
    candidates of each task are re-measured together and the fastest becomes the schedule builds
    use (`search.final`; 0: builds use each task's best search record; None: FINAL_TOP, 0 on
    emulated boards, whose timings do not rank schedules); `printer` gets its progress.
    """
    check_search_options(board, search, warm_start)
    if final_top is None:
        final_top = 0 if board.emulated else FINAL_TOP
    if final_top < 0:
        raise InputError(f"--final-top must be 0 (off) or more, not {final_top}")
    board.check_toolchain()
    host = board.is_host  # its candidates run here: say how contended
    watch = ContentionWatch.start() if host else None
    every = for_model(model, board).tasks
    tasks = [t for t in every if task_filter is None or task_filter(t)]
    start = start_from_library(library, tasks, store, trials) if library else None
    described = {id(t): t.describe() for t in every}  # the folder lists them all, tuned or not
    if start:  # what each task took from the library (for `report`)
        for t, status, skip, h in zip(tasks, start.status, start.skip, start.hashes):
            described[id(t)] |= {"library": "reused" if skip else status, "workload": h}
    write_tasks(store.path, list(described.values()), _tuned_with(board, search))
    if start and printer:
        for i, t in enumerate(tasks):
            printer(f"  {start.status[i]:8} {t.label}{_known_note(start, i)}")
    searched = [i for i in range(len(tasks)) if not (start and start.skip[i])]
    large = too_large(tasks, searched)
    no_space = spaceless(tasks, [i for i in searched if i not in large], board)
    for i, message in large.items():
        (printer or _warn)(f"  #{i} {tasks[i].label}: left untuned, too large to search: {message}")
    for i, message in no_space.items():
        (printer or _warn)(f"  #{i} {tasks[i].label}: left untuned, no search space: {message}")
    searched = [i for i in searched if i not in no_space and i not in large]
    resumed = trials_by_task(read_batches(store.path))
    progress = Progress(
        task_names=[t.name for t in tasks],
        weights=[t.weight for t in tasks],
        budget=trials,
        resumed_trials=store.summary().measured,
        best_s=[best_latency_in(store.database(), t.mod) for t in tasks],
        # as best_s, the folder's: this run's trials and those it resumes (as `report` counts)
        task_trials=[resumed[t.name] for t in tasks],
    )
    result = TuneResult(tasks, progress, {"method": search}, store, start)
    if no_space:
        result.search["untuned_no_space"] = {tasks[i].name: m for i, m in no_space.items()}
    if large:
        result.search["untuned_too_large"] = {tasks[i].name: m for i, m in large.items()}
    result.added = start.added if start else 0  # an earlier run's records, added first
    remaining = trials - progress.resumed_trials
    builds = KeptBuilds(final_top) if final_top > 0 else None  # the final phase's, built once
    with _errors_through_tvm(store), contextlib.ExitStack() as cleanup:
        measurers = cleanup.enter_context(contextlib.closing(Measurers(board)))
        if builds is not None:
            cleanup.callback(builds.close)
        if remaining > 0 and searched:
            try:
                _search(result, [tasks[i] for i in searched], searched, board, remaining, seed,
                        per_round, on_batch, warm_start, builds, measurers)  # fmt: skip
            finally:
                if library:  # every measurement goes to the library, even from an interrupted run
                    result.added += library.add(store)
        # from the folder's search logs, this run's or an earlier one's (a rerun says it too)
        if none := without_candidates(store.path, result.waiting()):
            result.search["untuned_no_valid_candidate"] = none
        if final_top > 0:
            family = start.family_records if start else None
            result.final = final_phase(
                tasks, store, board, final_top, printer, family, builds, measurers
            )
    timed = progress.trials > 0 or (result.final is not None and result.final.measured > 0)
    if watch is not None and timed:  # nothing timed: nothing to say of the host's load
        result.host_steal, result.others_cores = watch.read()
    return result


@contextlib.contextmanager
def _errors_through_tvm(store: RecordStore) -> Iterator[None]:
    """An edgetune error raised inside TVM's tuning (`stop.carry`; TVM hands it on as a
    RuntimeError) leaves as itself; a board lost while measuring says what is kept."""
    stop.carried()  # an earlier run's, in this process
    try:
        yield
    except Exception:
        if (lost := stop.carried()) is None:
            raise
        if not isinstance(lost, BoardLost):
            raise lost from None
        kept = store.summary()
        raise BoardLost(
            f"{lost}; tuning stopped: the {kept.records} trials measured before are kept in "
            f"{store.path}: run the same command again once the board is back"
        ) from None


def _search(
    result: TuneResult,
    tasks: list[Task],
    ids: list[int],
    board: Board,
    remaining: int,
    seed: int | None,
    per_round: int | None,
    on_batch: Callable[[Progress], None] | None,
    warm_start: str | Path | None,
    builds: KeptBuilds | None,
    measurers: Measurers,
) -> None:
    """Search `tasks` (at `ids` in the result's task list) for `remaining` trials, measured
    with `measurers`; `builds` (for the final phase) keeps the builds of each task's fastest
    candidates, else every build is removed once measured."""
    from ..tvm_api import ms

    store, progress, search = result.store, result.progress, result.search["method"]
    start = result.library
    seeds = start.seeds(tasks) if start else None
    evo_size = remaining // len(tasks)
    if search == "family":
        from .family import ForeseeSearch, prepare_family_search

        fam = prepare_family_search(
            tasks,
            store.path,
            remaining,
            board,
            warm_start=warm_start,
            known_best=[progress.best_s[i] for i in ids],
            per_round=per_round,
            num_tuning_cores=board.measure.build_workers,
        )
        result.search.update(
            per_round=fam.per_round,
            foresee_trials=fam.foresee_trials,
            cost_models_restored=fam.restored,
            cost_models_warm_started=fam.warm_started,
        )
        engine: dict[str, Any] = {
            "num_trials_per_iter": fam.per_round,
            "task_scheduler": fam.scheduler,
            "cost_model": fam.cost_model,
        }

        def strategy() -> Any:
            measured = MeasuredTraces()  # one task's two searches read its records once
            return ForeseeSearch(
                search_strategy(evo_size, seeds, measured=measured),
                search_strategy(evo_size, seeds, light=True, measured=measured),
                fam.plan,
                fam.cost_model.ranks,
            )
    else:
        engine = {
            "num_trials_per_iter": per_round or trials_per_round(remaining, len(tasks)),
            "task_scheduler": "gradient",
            "cost_model": "xgb",
        }
        result.search.update(per_round=engine["num_trials_per_iter"])

        def strategy() -> Any:
            return search_strategy(evo_size, seeds)

    contexts = _tune_contexts(tasks, board, str(store.path), seed, strategy)
    try:
        with sigint_spares_workers():  # made within: the runner's workers ignore Ctrl-C
            runner = make_runner(board, measurers.runner)
            callbacks = [
                ms.measure_callback.AddToDatabase(),
                builds if builds is not None else ms.measure_callback.RemoveBuildArtifact(),
                ms.measure_callback.UpdateCostModel(),
                ProgressCallback(
                    progress, on_batch, store.path, ids, lambda: scaled_timing(runner)
                ),
            ]
            ms.tune_tasks(
                tasks=contexts,
                task_weights=[float(t.weight) for t in tasks],
                work_dir=str(store.path),
                max_trials_global=remaining,
                builder=measurers.builder,
                runner=runner,
                database=store.database(),
                measure_callbacks=callbacks,
                module_equality=MODULE_EQUALITY,
                **engine,
            )
    finally:
        if seeds is not None:
            result.search["seeded"] = {name: len(t) for name, t in seeds.seeded.items()}
    if search == "family":
        result.search["foresee_rounds"] = fam.scheduler.foresee_rounds
