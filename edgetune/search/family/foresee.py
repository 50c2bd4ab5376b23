"""Foresee rounds: a task searched with its family's freshly updated model, measuring only the best.

MetaSchedule's EvolutionarySearch returns its candidates best-predicted first (the epsilon-greedy
random picks come last). `ForeseeSearch` wraps it per task; when the scheduler has planned a
foresee round for the task it keeps only the first `limit` candidates, so only the most
promising schedules are built and measured. A foresee round is searched by a second, lighter
evolutionary search of the same task (`light`: a smaller population, one generation): a round's
evolution costs the same however few of its candidates are measured, and in short tunes foresee
rounds are most of the rounds; when it gives up (its small population finds nothing new) the full
search takes the round. Both searches are told every result, so each counts every trial and
neither proposes a schedule the other measured.

A full round whose cost model cannot rank yet (fewer measurements than its warm-up: MetaSchedule's
XGBModel then scores candidates at random) is searched by the light search too: evolving a large
population by random scores picks candidates as random as a small one's, at several times the
cost (an 8-trial tune of tiny_fp32: 11.9 -> 10.3 s).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tvm.ir.utils import derived_object

from ...tvm_api import ms


class ForeseePlan:
    """Candidate limits for the next search of some tasks, set by the scheduler."""

    def __init__(self) -> None:
        self._limits: dict[str, int] = {}

    def limit(self, task_name: str, candidates: int) -> None:
        """Measure at most `candidates` in the task's next search (the smallest limit wins)."""
        self._limits[task_name] = min(candidates, self._limits.get(task_name, candidates))

    def take(self, task_name: str) -> int | None:
        """The limit for this task's next search (consumed), None for a full round."""
        return self._limits.pop(task_name, None)


@derived_object
class ForeseeSearch(ms.search_strategy.PySearchStrategy):
    """A task's search: `inner` in full rounds, `light` cut to the planned limit in foresee
    rounds and in full rounds the cost model cannot rank (`ranks(task_name)` false), both
    strategies of the same task (e.g. `SkipMeasured` evolutionary searches)."""

    def __init__(self, inner: Any, light: Any, plan: ForeseePlan, ranks: Callable[[str], bool]):
        self.inner = inner
        self.light = light
        self.plan = plan
        self.ranks = ranks
        self.task_name = ""

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.task_name = str(context.task_name)
        for search in (self.inner, self.light):
            search._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database, cost_model):
        for search in (self.inner, self.light):
            search.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

    def post_tuning(self) -> None:
        for search in (self.inner, self.light):
            search.post_tuning()

    def generate_measure_candidates(self):
        limit = self.plan.take(self.task_name)
        if limit is None and self.ranks(self.task_name):
            return self.inner.generate_measure_candidates()
        candidates = self.light.generate_measure_candidates()
        if candidates is None:  # the light search gave up (its population found nothing new)
            candidates = self.inner.generate_measure_candidates()
        return None if candidates is None else list(candidates)[:limit]  # limit None: all

    def notify_runner_results(self, measure_candidates, results) -> None:
        for search in (self.inner, self.light):
            search.notify_runner_results(measure_candidates, results)

    def clone(self):
        return ForeseeSearch(self.inner.clone(), self.light.clone(), self.plan, self.ranks)
