"""The final phase of a tune: each task's top candidates re-measured together, the fastest kept.

The search times each candidate once, in one short window: another process that takes a core
during that window makes the candidate look slow, or the others look slow while it looked fast
(`measure.robust` helps only when some of its repeats escape the foreign work). After the
search, the `top` distinct candidates of every task (by the search's estimate) are built again
and timed together on the board's runner, interleaved (A B C A B C ...) for ROUNDS rounds, so
every candidate meets the same moments of foreign work. A candidate's re-measured latency is its
median round, a round being the mean of the middle half of its repeats (`robust.middle_half`):
a typical run, as the kernel runs inside the model (the search ranks by the fastest quarter of
one round, a best case), that foreign work during fewer than half of the rounds does not move.
The fastest candidate becomes the task's final choice (`records.final`), which builds apply, and
its latency the task's estimate.

Beside its own, each task's candidates include the best schedules of up to FAMILY members of its
family (those nearest in size first), replayed on its own module (`transfer.replayed`: tile
decisions adapted to its shapes) and measured in the same rounds. A task the scheduler gave few
trials (in a 1000-trial MobileNetV2 tune, a third of the tasks get 10) varies 1.3-2x from tune to
tune; a member that got hundreds of trials often found a tiling that suits it better (session 21:
0.36 ms of a 4.1 ms estimate). With a records library, the best records of up to FAMILY
library workloads of the family (other models' shapes, nearest in size first) are candidates as
well: transfer from other models where a measurement decides (seeding the search with them and
pre-training on them did not help: docs/search.md). Kept only where it measures faster, as any
candidate.

A task's choice is current while it names the candidates that are the task's top now: a resumed
tune re-measures only the tasks without a current choice, and more trials that change a task's
top candidates re-measure it. Candidates are built in batches of about CHUNK, and each task's
choice is written as soon as its batch is measured, so Ctrl-C keeps the choices made so far.

The rounds race: after RACE_ROUNDS rounds, a candidate whose median round so far is more than
RACE_MARGIN x its task's fastest candidate's is not timed further (it keeps the rounds it has and
cannot win). Replayed on two 100-trial MobileNetV2 final phases (every candidate's 10 rounds
recorded), 4 rounds and 1.3x changed no task's choice and saved about a third of the runs; 3
rounds, or a margin of 1.1x, changed choices (docs/search.md).

Cost: up to `top` + FAMILY (+ FAMILY from a library) builds and up to ROUNDS x as many runs per
task, where the search spends one build and one run per trial; builds dominate on the host, so
the builds of a task's own top candidates are the search's, kept for this (`kept_builds`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import last_line
from ..measure import Measurers
from ..measure.robust import middle_half
from ..records import FAILED_RUN_SECS, record_json, workload_hash
from ..rules import get_rule_set
from ..tvm_api import ms, s_tir
from .interrupt import sigint_spares_workers, stop_if_interrupted
from .kept_builds import KeptBuilds
from .progress import duration_text, ms_text
from .schedule_key import schedule_key
from .transfer import replayed

if TYPE_CHECKING:
    from ..board import Board
    from ..records import RecordStore
    from ..tasks import Task

FINAL_TOP = 3  # candidates re-measured per task (tune --final-top)
ROUNDS = 10  # interleaved rounds: each candidate is timed ROUNDS x the board's repeats
RACE_ROUNDS = 4  # rounds after which a task's clearly slower candidates stop being timed
RACE_MARGIN = 1.3  # "clearly slower": median round so far > RACE_MARGIN x the task's fastest
CHUNK = 16  # candidates built per batch (Ctrl-C waits for one batch at most)
POOL = 4  # search records read per candidate wanted (duplicate schedules are skipped)
FAMILY = 4  # family members whose best schedule is also re-measured on each task
LIBRARY = "library:"  # how a candidate from the records library names its member


@dataclass
class Candidate:
    """One of a task's top schedules: its search record and what re-measuring it gave."""

    record: Any  # MetaSchedule TuningRecord of the search
    measure: Any  # MetaSchedule MeasureCandidate (the scheduled module and its arguments)
    key: str  # `schedule_key`: the same in every process
    search_s: float | None  # None: another family member's schedule, never measured on this task
    rounds: list[list[float]] = field(default_factory=list)  # each round's kept repeats
    error: str | None = None
    member: str | None = None  # the family member whose best schedule this is (None: own)

    @property
    def secs(self) -> list[float] | None:
        """The kept repeats of the median round (rounds ranked by their mean)."""
        if not self.rounds:
            return None
        ranked = sorted(self.rounds, key=lambda secs: sum(secs) / len(secs))
        return ranked[(len(ranked) - 1) // 2]

    @property
    def final_s(self) -> float | None:
        return sum(self.secs) / len(self.secs) if self.secs else None

    def to_json(self) -> dict[str, Any]:
        final = self.final_s
        return {
            "schedule": self.key,
            "search_us": self.search_s * 1e6 if self.search_s is not None else None,
            "final_us": final * 1e6 if final is not None else None,
            **({"from": self.member} if self.member else {}),
            **({"error": self.error} if self.error and final is None else {}),
        }


@dataclass
class FinalPhase:
    """The final choices of a tune's tasks, and what this run re-measured."""

    top: int
    tasks: list[Task]
    entries: list[dict[str, Any] | None]  # per task: its current choice (None: no records)
    measured: int = 0  # tasks re-measured by this run
    reused: int = 0  # candidates whose search build was reused (`KeptBuilds`)
    started: float = field(default_factory=time.time)
    elapsed_s: float = 0.0

    @property
    def estimated_latency_s(self) -> float | None:
        """Sum of weight x chosen latency, once every task has a choice."""
        total = 0.0
        for task, entry in zip(self.tasks, self.entries):
            chosen = _chosen_us(entry)
            if chosen is None:
                return None
            total += task.weight * chosen * 1e-6
        return total

    @property
    def changed(self) -> int:
        """Tasks whose choice is not the search's best."""
        return sum(1 for e in self.entries if e and e["chosen"] not in (None, 0))

    @property
    def from_family(self) -> int:
        """Tasks whose choice is another family member's schedule (this run's or the library's)."""
        return sum(1 for e in self.entries if e and "from" in (_chosen(e) or {}))

    @property
    def from_library(self) -> int:
        """Tasks whose choice is a schedule of the records library (another model's)."""
        return sum(
            1 for e in self.entries if (_chosen(e) or {}).get("from", "").startswith(LIBRARY)
        )

    def to_json(self) -> dict[str, Any]:
        est = self.estimated_latency_s
        return {
            "top": self.top,
            "rounds": ROUNDS,
            "tasks_remeasured": self.measured,
            "builds_reused": self.reused,
            "choices_changed": self.changed,
            "choices_from_family": self.from_family,
            "choices_from_library": self.from_library,
            "elapsed_s": self.elapsed_s,
            "estimated_latency_ms": est * 1e3 if est is not None else None,
            "tasks": [
                {"name": t.name, "candidates": e["candidates"], "chosen": e["chosen"]}
                if e
                else {"name": t.name, "candidates": [], "chosen": None}
                for t, e in zip(self.tasks, self.entries)
            ],
        }

    def line(self) -> str:
        """The phase for a terminal, one line."""
        chosen = sum(1 for e in self.entries if _chosen_us(e) is not None)
        return (
            f"final: top {self.top} re-measured (up to {ROUNDS} rounds, {self.reused} search "
            f"builds reused) for {_tasks(self.measured)} in "
            f"{duration_text(self.elapsed_s)}; {chosen}/{len(self.tasks)} tasks have a final "
            f"choice, {self.changed} not the search's best ({self.from_family} a family "
            f"member's schedule, {self.from_library} from the library); estimated end-to-end "
            f"latency {ms_text(self.estimated_latency_s)}, what `build` uses"
        )


def _tasks(n: int) -> str:
    return f"{n} task" + ("" if n == 1 else "s")


def _chosen(entry: dict[str, Any] | None) -> dict[str, Any] | None:
    if not entry or entry["chosen"] is None:
        return None
    return entry["candidates"][entry["chosen"]]


def _chosen_us(entry: dict[str, Any] | None) -> float | None:
    chosen = _chosen(entry)
    return chosen["final_us"] if chosen else None


def top_candidates(db: Any, mod: Any, top: int) -> list[Candidate]:
    """The task's `top` fastest distinct schedules in the search's database, fastest first."""
    if not db.has_workload(mod):
        return []
    out: list[Candidate] = []
    for record in db.get_top_k(db.commit_workload(mod), top * POOL):
        secs = [float(s) for s in record.run_secs or []]
        mean = sum(secs) / len(secs) if secs else FAILED_RUN_SECS
        if mean >= FAILED_RUN_SECS:
            continue
        key = schedule_key(record.trace)
        if all(c.key != key for c in out):
            out.append(Candidate(record, record.as_measure_candidate(), key, mean))
        if len(out) == top:
            break
    return out


def family_candidates(
    task: Task,
    tasks: list[Task],
    db: Any,
    board: Board,
    space: Any,
    own: list[Candidate],
    library: Sequence[tuple[float, Any]] = (),
) -> list[Candidate]:
    """Other shapes' schedules replayed on the task's module with the board's `space`'s
    postprocessors, except those equal to one of its `own` candidates: the best search schedules
    of up to FAMILY other members of its family in this run, and up to FAMILY of the `library`
    records ((flops, best record) of each library workload of its family), each nearest in size
    first."""
    if not library and not any(t.family == task.family and t.name != task.name for t in tasks):
        return []
    context = ms.TuneContext(mod=task.mod, target=board.target(), space_generator=space,
                             task_name=task.name).clone()  # fmt: skip
    keys = {c.key for c in own}
    work = db.commit_workload(task.mod)
    return [
        *_replayed_candidates(_run_members(task, tasks, db), context, work, keys),
        *_replayed_candidates(_library_members(task, library), context, work, keys),
    ]


def _run_members(task: Task, tasks: list[Task], db: Any) -> Iterator[tuple[str, Any]]:
    """(name, best search trace) of the task's family members in this run, nearest first."""
    members = [t for t in tasks if t.family == task.family and t.name != task.name]
    for member in _nearest(task, members, lambda t: t.flops):
        best = top_candidates(db, member.mod, 1)
        if best:
            yield member.name, best[0].record.trace


def _library_members(task: Task, sized: Sequence[tuple[float, Any]]) -> Iterator[tuple[str, Any]]:
    """(LIBRARY + workload hash, trace) of the (flops, record) library records, nearest in size
    to the task first."""
    for _, record in _nearest(task, list(sized), lambda item: item[0]):
        yield f"{LIBRARY}{record.workload.as_json()[0]}", record.trace


def _nearest(task: Task, items: list[Any], flops: Callable[[Any], float]) -> list[Any]:
    """`items` ordered by how near their size is to the task's (ratio of flops)."""
    size = max(task.flops, 1.0)
    return sorted(items, key=lambda item: abs(math.log(max(flops(item), 1.0) / size)))


def _replayed_candidates(
    sources: Iterable[tuple[str, Any]], context: Any, work: Any, keys: set[str]
) -> list[Candidate]:
    """Up to FAMILY of the (member name, trace) `sources` that replay on the context's module
    into a schedule not among `keys` (which takes the new ones)."""
    out: list[Candidate] = []
    for member, trace in sources:
        replay = replayed(trace, context)
        if replay is None:
            continue
        before, sch, args = replay
        key = schedule_key(before.trace)
        if key in keys:
            continue
        keys.add(key)
        record = ms.database.TuningRecord(sch.trace, work, None, context.target, args)
        out.append(Candidate(record, ms.MeasureCandidate(sch, args), key, None, member=member))
        if len(out) == FAMILY:
            break
    return out


def final_phase(
    tasks: list[Task],
    store: RecordStore,
    board: Board,
    top: int,
    say: Callable[[str], None] | None = None,
    library: dict[str, list[list[Any]]] | None = None,
    builds: KeptBuilds | None = None,
    measurers: Measurers | None = None,
) -> FinalPhase:
    """Give every task with records a current final choice (see the module docstring).
    `library`: per family, the records library's top records of each of its workloads (best
    first), whose best are candidates too; `builds`: the search's builds to reuse;
    `measurers`: the search's builder and runner (None: the phase's own)."""
    say = say or (lambda _line: None)
    phase = FinalPhase(top, tasks, [None] * len(tasks))
    choices, db = store.final_choices(), store.database()
    pending: list[tuple[int, str, list[Candidate]]] = []
    space = get_rule_set(board.rule_set).space(board, [t.mod for t in tasks])
    measured = {schedule_key(r.trace) for r in db.get_all_tuning_records()} if library else set()

    @functools.cache
    def held(family: str) -> list[tuple[float, Any]]:  # once per family, not per task
        return _library_best((library or {}).get(family, []), measured)

    for i, task in enumerate(tasks):
        candidates = top_candidates(db, task.mod, top)
        h = workload_hash(task.mod)
        entry = choices.get(h)
        if entry and _own_keys(entry) == {c.key for c in candidates}:
            phase.entries[i] = entry
        elif candidates:
            members = family_candidates(
                task, tasks, db, board, space, candidates, held(task.family)
            )
            pending.append((i, h, candidates + members))
    if pending:
        say(f"final: re-measuring the top {top} candidates of {_tasks(len(pending))} and their "
            f"family members' best, together ({ROUNDS} interleaved rounds)")  # fmt: skip
        unit = "tasks of the final phase"
        with contextlib.ExitStack() as own, sigint_spares_workers(unit):
            if measurers is None:
                measurers = own.enter_context(contextlib.closing(Measurers(board)))
            for chunk in _chunks(pending):
                groups = [(tasks[i].mod, cands) for i, _, cands in chunk]
                # the runner's every repeat: _add_round reduces them
                phase.reused += _remeasure(
                    groups, measurers.builder, measurers.runner, board, builds
                )
                for i, h, cands in chunk:
                    phase.entries[i] = _entry(tasks[i], h, cands, top)
                    store.add_choice(phase.entries[i])
                    phase.measured += 1
                say(f"final: [{phase.measured}/{len(pending)} tasks] "
                    f"{duration_text(time.time() - phase.started)}")  # fmt: skip
                stop_if_interrupted()  # the chunk's choices are written: a clean place to stop
    phase.elapsed_s = time.time() - phase.started
    return phase


def _library_best(groups: list[list[Any]], measured: set[str]) -> list[tuple[float, Any]]:
    """(flops, record) of the best record of each library workload (`groups`: each one's
    records, best first) whose schedule was not `measured` in the records folder (the library
    holds its records too)."""
    out = []
    for group in groups:
        record = next((r for r in group if schedule_key(r.trace) not in measured), None)
        if record is not None:
            out.append((float(s_tir.analysis.estimate_tir_flops(record.workload.mod)), record))
    return out


def _own_keys(entry: dict[str, Any]) -> set[str]:
    """The schedules of a final choice's candidates that are the task's own search records."""
    return {c["schedule"] for c in entry["candidates"] if "from" not in c}


def _chunks(pending: list[Any]) -> Iterator[list[Any]]:
    """Whole tasks, about CHUNK candidates at a time."""
    chunk: list[Any] = []
    size = 0
    for item in pending:
        chunk.append(item)
        size += len(item[2])
        if size >= CHUNK:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _remeasure(
    tasks: list[tuple[Any, list[Candidate]]],
    builder: Any,
    runner: Any,
    board: Board,
    builds: KeptBuilds | None = None,
) -> int:
    """Build the candidates (per task: its module and candidates; those `builds` kept are not
    built again), then time them in up to ROUNDS interleaved rounds on the board's runner,
    racing each task's after RACE_ROUNDS; each keeps every round (`Candidate.secs` takes the
    median one). Returns how many builds were reused."""
    target = board.target()
    candidates = [c for _, cands in tasks for c in cands]
    paths: dict[int, str | None] = {}  # every build used here, removed at the end
    try:
        if builds is not None:
            paths = {id(c): builds.take(mod, c.key) for mod, cands in tasks for c in cands}
        build = [c for c in candidates if paths.get(id(c)) is None]
        built = builder.build([ms.builder.BuilderInput(c.measure.sch.mod, target) for c in build])
        for c, b in zip(build, built):
            if b.error_msg:
                c.error = "build: " + last_line(b.error_msg, "(no message)", 200)
            paths[id(c)] = b.artifact_path
        inputs = {
            id(c): ms.runner.RunnerInput(path, board.device_type, c.measure.args_info)
            for c in candidates
            if (path := paths[id(c)]) is not None and c.error is None
        }
        timed = [c for c in candidates if id(c) in inputs]
        for done in range(ROUNDS):
            if done == RACE_ROUNDS:
                timed = [c for _, cands in tasks for c in _in_the_race(cands) if id(c) in inputs]
            for c, future in zip(timed, runner.run([inputs[id(c)] for c in timed])):
                _add_round(c, future.result())
    finally:
        for path in paths.values():
            if path:
                ms.utils.remove_build_dir(path)
    return len(candidates) - len(build)


def _in_the_race(candidates: list[Candidate]) -> list[Candidate]:
    """A task's candidates still worth timing: median round within RACE_MARGIN x the fastest's."""
    timed = [(c, c.final_s) for c in candidates if c.final_s is not None]
    if not timed:
        return []
    fastest = min(s for _, s in timed)
    return [c for c, s in timed if s <= RACE_MARGIN * fastest]


def _add_round(c: Candidate, result: Any) -> None:
    """Keep the middle half of this round's repeats (a failed round is noted, not kept)."""
    secs = middle_half([float(s) for s in result.run_secs or []])
    mean = sum(secs) / len(secs) if secs else FAILED_RUN_SECS
    if result.error_msg or mean >= FAILED_RUN_SECS:
        c.error = f"run: {last_line(result.error_msg or 'no run time', chars=200)}"
    else:
        c.rounds.append(secs)


def _entry(task: Task, h: str, candidates: list[Candidate], top: int) -> dict[str, Any]:
    """A task's line in the final choices: its candidates and the fastest one's record."""
    timed = [i for i, c in enumerate(candidates) if c.final_s is not None]
    chosen = min(timed, key=lambda i: candidates[i].final_s) if timed else None  # type: ignore
    record = None
    if chosen is not None:
        record = record_json(candidates[chosen].record, candidates[chosen].secs)
    return {
        "task": task.name,
        "workload": h,
        "top": top,
        "rounds": ROUNDS,
        "time": time.time(),
        "candidates": [c.to_json() for c in candidates],
        "chosen": chosen,
        "record": record,
    }
