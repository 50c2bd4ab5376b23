"""Transfer from the records library: a task's family's best traces seed its search.

MetaSchedule's EvolutionarySearch starts each round's population from the database's best
records of the task (`GetTopK` of its workload), and a task new to the records has none. For a
task whose family the library knows, `TransferSeeds` replays the family's best library traces
on the task's own module (`Trace.apply_to_schedule`: tile decisions that do not fit the new
shapes are adapted to them, the same way whatever the schedule's seed: [1, 4, 16] of 64 rows
becomes [1, 3, 16] of 48) and keeps those that apply and pass the task's postprocessors. The
search strategy (`SkipMeasured`) then hands EvolutionarySearch a database of its own for the
task: the task's measured records (kept up to date after every batch) plus the seeds, which
rank after every real measurement (`SEED_SECS`), so they fill the population only where the
task's own records do not.
"""

from __future__ import annotations

from typing import Any

from ..records import FAILED_RUN_SECS
from ..records.store import with_workload
from ..tasks import MODULE_EQUALITY
from ..tvm_api import ms, s_tir
from .schedule_key import schedule_key

SEED_SECS = 1e6  # seeds rank after any real measurement, before failures (1e10)
MAX_SEEDS = 16  # retargeted traces per task (EvolutionarySearch takes up to 20% of its population)


class TransferSeeds:
    """Library records per family; per task, the traces retargeted to it and what was seeded."""

    def __init__(self, family_records: dict[str, list[list[Any]]], task_family: dict[str, str]):
        self.task_family = task_family
        # per family: the workloads' records interleaved best first, so every shape contributes
        self.records = {fam: _interleave(groups) for fam, groups in family_records.items()}
        self.seeded: dict[str, list[str]] = {}  # task name -> seeded traces (text)
        self._retargeted: dict[str, list[Any]] = {}  # task name -> traces (a task's searches share)

    def database_for(self, context: Any, database: Any) -> Any | None:
        """A database for the context's search: its records in `database` plus retargeted seeds;
        None if nothing of its family applies."""
        name = str(context.task_name)
        if name not in self._retargeted:  # the full and the light search of a task ask both
            family = self.records.get(self.task_family.get(name, ""), [])
            self._retargeted[name] = retarget(family, context)
        traces = self._retargeted[name]
        if not traces:
            return None
        seeded = ms.database.MemoryDatabase(module_equality=MODULE_EQUALITY)
        work = seeded.commit_workload(context.mod)
        if database is not None and database.has_workload(context.mod):
            own = database.commit_workload(context.mod)
            for r in database.get_all_tuning_records():
                if r.workload.same_as(own):
                    seeded.commit_tuning_record(with_workload(r, work))
        for rank, trace in enumerate(traces):
            seeded.commit_tuning_record(
                ms.database.TuningRecord(trace, work, [SEED_SECS + rank], context.target)
            )
        self.seeded[name] = [str(t) for t in traces]
        return seeded


def mirror_results(database: Any, context: Any, candidates: list[Any], results: list[Any]) -> None:
    """Commit a measured batch to a task's seeded database, as MetaSchedule does to the real one."""
    work = database.commit_workload(context.mod)
    for candidate, result in zip(candidates, results):
        secs = result.run_secs if not result.error_msg and result.run_secs else None
        database.commit_tuning_record(
            ms.database.TuningRecord(
                candidate.sch.trace,
                work,
                secs or [FAILED_RUN_SECS * 10],
                context.target,
                candidate.args_info,
            )
        )


def retarget(records: list[Any], context: Any, limit: int = MAX_SEEDS) -> list[Any]:
    """Traces of `records` replayed on the context's module that pass its postprocessors
    (distinct, at most `limit`, in the records' order), before postprocessing."""
    out: list[Any] = []
    seen: set[str] = set()
    for record in records:
        replay = replayed(record.trace, context, seed=len(out) + 1)
        if replay is None or (key := schedule_key(replay[0].trace)) in seen:
            continue
        seen.add(key)
        out.append(replay[0].trace)
        if len(out) >= limit:
            break
    return out


def replayed(trace: Any, context: Any, seed: int = 1) -> tuple[Any, Any, Any] | None:
    """`trace` (of another shape of the family) replayed on the context's module: the schedule
    before and after the context's postprocessors and the latter's argument info, None if it
    does not apply (another op mix or layout) or a postprocessor rejects it or fails on it. The
    postprocessed trace marks where the postprocessors began, as MetaSchedule's candidates do,
    so replaying it again drops their instructions instead of applying them twice (which failed
    in RewriteLayout on 2 of 136 such replays in session 29)."""
    sch = s_tir.Schedule(context.mod, seed=seed, error_render_level="none")
    try:
        trace.apply_to_schedule(sch, remove_postproc=True)
        done = sch.copy()
        done.enter_postproc()
        if not all(p.apply(done) for p in context.space_generator.postprocs or []):
            return None
        args = ms.arg_info.ArgInfo.from_entry_func(done.mod, remove_preproc=True)
    except Exception:  # noqa: BLE001 - the trace does not apply to this module
        return None
    return sch, done, args


def _interleave(groups: list[list[Any]]) -> list[Any]:
    """[[a1, a2], [b1], [c1, c2]] -> [a1, b1, c1, a2, c2] (each group is best first)."""
    longest = max((len(g) for g in groups), default=0)
    return [g[i] for i in range(longest) for g in groups if i < len(g)]
