"""Foresee rounds: a task searched with its family's freshly updated model, measuring only the best.

MetaSchedule's EvolutionarySearch returns its candidates best-predicted first (the epsilon-greedy
random picks come last). `ForeseeSearch` wraps it per task; when the scheduler has planned a
foresee round for the task it keeps only the first `limit` candidates, so the search costs its
usual time but only the most promising schedules are built and measured.
"""

from __future__ import annotations

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
    """EvolutionarySearch whose candidate list is cut to the planned limit in foresee rounds."""

    def __init__(self, inner: Any, plan: ForeseePlan):
        self.inner = inner
        self.plan = plan
        self.task_name = ""

    def _initialize_with_tune_context(self, context: Any) -> None:
        self.task_name = str(context.task_name)
        self.inner._initialize_with_tune_context(context)

    def pre_tuning(self, max_trials, num_trials_per_iter, design_spaces, database, cost_model):
        self.inner.pre_tuning(max_trials, num_trials_per_iter, design_spaces, database, cost_model)

    def post_tuning(self) -> None:
        self.inner.post_tuning()

    def generate_measure_candidates(self):
        candidates = self.inner.generate_measure_candidates()
        limit = self.plan.take(self.task_name)
        if candidates is None or limit is None:
            return candidates
        return list(candidates)[:limit]

    def notify_runner_results(self, measure_candidates, results) -> None:
        self.inner.notify_runner_results(measure_candidates, results)

    def clone(self):
        return ForeseeSearch(self.inner.clone(), self.plan)
