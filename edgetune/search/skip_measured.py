"""Never measure a candidate twice: a search strategy wrapper that drops known schedules.

MetaSchedule's evolutionary search remembers what it measured within one session only; after a
resume it seeds its population from the records and can propose a schedule measured before.
`SkipMeasured` loads the traces already recorded for its task and filters every batch; a task's
searches (the family search's full and light ones) share one `MeasuredTraces`, read from the
records once. Given `TransferSeeds`, it also hands the inner search a database with the
library's traces of the task's family retargeted to it (`search.transfer`) when there are any.

A task whose search proposes nothing new EXHAUSTED_AFTER rounds in a row has spent its space:
the wrapper then ends it (MetaSchedule terminates a task whose strategy returns None). Without
this the scheduler kept picking such tasks, each pick a whole evolutionary search with nothing
to measure: basic-pitch's large injective kernels (a few distinct schedules each) held `tune`
at 305 of 1000 trials for 3 minutes, cycling over three of them.
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object

from ..tvm_api import ms
from .schedule_key import schedule_key
from .transfer import TransferSeeds, mirror_results

EXHAUSTED_AFTER = 2  # rounds in a row without a new candidate that end a task


class MeasuredTraces:
    """Keys of one task's measured schedules: its records, then every result of this run."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self._loaded = False

    def load(self, database: Any, mod: Any) -> None:
        """Read the task's recorded traces (once: another search of the same task reuses them)."""
        if self._loaded:
            return
        self._loaded = True
        if database is not None and database.has_workload(mod):
            workload = database.commit_workload(mod)
            self.keys.update(
                schedule_key(r.trace)
                for r in database.get_all_tuning_records()
                if r.workload.same_as(workload)
            )


@derived_object
class SkipMeasured(ms.search_strategy.PySearchStrategy):
    """Wraps a search strategy; candidates whose trace is in the records are not measured."""

    def __init__(
        self,
        inner: Any,
        seeds: TransferSeeds | None = None,
        measured: MeasuredTraces | None = None,
    ):
        self.inner = inner
        self.seeds = seeds
        self.measured = MeasuredTraces() if measured is None else measured
        self.context: Any = None
        self.mod: Any = None
        self.seeded_db: Any = None  # the inner search's database when seeded
        self.idle_rounds = 0  # rounds in a row that proposed nothing new

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.context = context
        self.mod = context.mod
        self.inner._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database, cost_model):
        self.measured.load(database, self.mod)
        if self.seeds is not None:
            self.seeded_db = self.seeds.database_for(self.context, database)
        search_db = database if self.seeded_db is None else self.seeded_db  # an empty one is falsy
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, search_db, cost_model)

    def post_tuning(self) -> None:
        self.inner.post_tuning()

    def generate_measure_candidates(self):
        candidates = self.inner.generate_measure_candidates()
        if candidates is None:
            return None
        fresh: dict[str, Any] = {}
        for candidate in candidates:
            key = schedule_key(candidate.sch.trace)
            if key not in self.measured.keys:
                fresh.setdefault(key, candidate)
        self.idle_rounds = 0 if fresh else self.idle_rounds + 1
        if self.idle_rounds >= EXHAUSTED_AFTER:
            return None  # the task's space is spent: MetaSchedule ends the task
        return list(fresh.values())

    def notify_runner_results(self, measure_candidates, results) -> None:
        self.measured.keys.update(schedule_key(c.sch.trace) for c in measure_candidates)
        if self.seeded_db is not None:
            mirror_results(self.seeded_db, self.context, measure_candidates, results)
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self):
        return SkipMeasured(self.inner.clone(), self.seeds)
