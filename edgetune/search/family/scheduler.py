"""Task scheduler for family search: family warm-up, Ansor's gradient, foresee rounds, no starving.

Runs inside MetaSchedule's TaskScheduler loop (a PyTaskScheduler: MetaSchedule builds, runs and
calls the measure callbacks; this class only picks the next task):

1. Warm-up (tasks without records): the heaviest unmeasured task of a family gets a full
   round, then every other unmeasured member gets a foresee round (only the `foresee_trials`
   best candidates of a search with the family model just trained on the first member).
2. Then each main round goes to the task with the largest estimated end-to-end gain (Ansor's
   gradient: weight x (alpha x recent improvement + (1 - alpha) x expected improvement, the
   latter bounded by what the family's best throughput suggests)), followed by foresee rounds
   for its `foresee_width` family members with the largest gains. The expected improvement
   shrinks with the task's measured trials counted in full rounds, so a task measured only in
   foresee rounds still expects as much as after a single full round.
3. A task not picked for `starve_after` decisions gets the next round, a foresee-sized one: it
   keeps every task measured without spending full rounds on tasks the gain rightly ignores.

Every running batch is joined before the next pick, so the family model has learned from it.
The last round is cut to what is left of the budget, so a run measures exactly its budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from tvm.ir.utils import derived_object

from ...records import FAILED_RUN_SECS
from ...tvm_api import ms
from .foresee import ForeseePlan


@dataclass
class SchedulerTask:
    """What the scheduler knows of a task."""

    name: str
    family: str
    weight: float
    flops: float


@derived_object
class FamilyScheduler(ms.task_scheduler.PyTaskScheduler):
    """Picks tasks for MetaSchedule's tuning loop (see the module docstring)."""

    def __init__(
        self,
        tasks: list[SchedulerTask],
        plan: ForeseePlan,
        per_round: int,
        foresee_trials: int,
        known_best: list[float | None] | None = None,
        budget: int | None = None,
        foresee_width: int = 2,
        starve_after: int | None = None,
        alpha: float = 0.2,
        beta: float = 2.0,
        window: int = 3,
    ):
        super().__init__()
        self.tasks = tasks
        self.plan = plan
        self.per_round = per_round
        self.budget = budget  # trials this run may measure (None: MetaSchedule's limit alone)
        self.measured = 0
        self.foresee_trials = foresee_trials
        self.foresee_width = foresee_width
        self.starve_after = starve_after or 2 * len(tasks)
        self.alpha, self.beta, self.window = alpha, beta, window
        # best latency after each round; a resumed run starts from the records' best
        known = known_best or [None] * len(tasks)
        self.history: list[list[float]] = [[b] if b is not None else [] for b in known]
        self.last_pick = [0 if b is not None else -1 for b in known]  # -1: warm-up pending
        # trials measured per task; records of a resumed run count as one full round
        self.trials = [per_round if b is not None else 0 for b in known]
        self.decisions = 0
        self.queue: list[int] = []  # foresee rounds planned
        self.foresee_rounds = 0

    # MetaSchedule calls this whenever it can start a batch; -1 ends tuning.
    def next_task_id(self) -> int:
        outer = self._outer()
        records = list(outer.tasks_)
        for i, rec in enumerate(records):
            if not rec.is_terminated and rec.runner_futures is not None:
                self._joined(i, ms._ffi_api.TaskSchedulerJoinRunningTask(outer, i))
        alive = [i for i, rec in enumerate(records) if not rec.is_terminated]
        left = self.budget - self.measured if self.budget is not None else self.per_round
        if not alive or left <= 0:
            return -1
        task = self._pick(alive)
        if left < self.per_round:
            self.plan.limit(self.tasks[task].name, left)
        self.decisions += 1
        self.last_pick[task] = self.decisions
        return task

    def best(self, i: int) -> float | None:
        return self.history[i][-1] if self.history[i] else None

    def gain(self, i: int) -> float:
        """Estimated end-to-end seconds saved by one more round of task i."""
        hist, task = self.history[i], self.tasks[i]
        best = self.best(i)
        if best is None:
            return 0.0
        n, w = len(hist), self.window
        recent = (hist[-1 - w] - best) / w if n > w else 0.0
        expected = best - best / max(1.0, self.trials[i] / self.per_round)
        family_speed = max(
            self.tasks[j].flops / b
            for j in [i, *self._family(i, alive=None)]
            if (b := self.best(j)) is not None
        )
        expected = min(expected, self.beta * task.flops / family_speed)
        return task.weight * (self.alpha * recent + (1 - self.alpha) * (best - expected))

    def _pick(self, alive: list[int]) -> int:
        while self.queue:
            i = self.queue.pop(0)
            if i in alive:
                return self._foresee(i)
        fresh = [i for i in alive if self.last_pick[i] < 0]
        if fresh:
            task = max(fresh, key=lambda i: self.tasks[i].weight * self.tasks[i].flops)
            self.queue = [j for j in self._family(task, fresh) if j in fresh]
            return task
        starved = [i for i in alive if self.decisions - self.last_pick[i] >= self.starve_after]
        if starved:
            return self._foresee(min(starved, key=lambda i: self.last_pick[i]))
        gains = {i: self.gain(i) for i in alive}
        task = max(alive, key=lambda i: gains[i])
        siblings = sorted(self._family(task, alive), key=lambda j: -gains[j])
        self.queue = siblings[: self.foresee_width]
        return task

    def _foresee(self, i: int) -> int:
        """Plan a foresee round (only the `foresee_trials` best candidates) for task i."""
        self.plan.limit(self.tasks[i].name, self.foresee_trials)
        self.foresee_rounds += 1
        return i

    def _family(self, i: int, alive: list[int] | None) -> list[int]:
        """Other members of task i's family (among `alive` if given), heaviest first."""
        fam = self.tasks[i].family
        members = [
            j
            for j, t in enumerate(self.tasks)
            if t.family == fam and j != i and (alive is None or j in alive)
        ]
        return sorted(members, key=lambda j: -self.tasks[j].weight * self.tasks[j].flops)

    def _joined(self, i: int, results) -> None:
        self.trials[i] += len(results)
        self.measured += len(results)
        secs = [
            sum(s) / len(s)
            for r in results
            if not r.error_msg and r.run_secs
            for s in [[float(x) for x in r.run_secs]]
        ]
        best = min([s for s in secs if s < FAILED_RUN_SECS], default=None)
        prev = self.best(i)
        if best is None or (prev is not None and prev <= best):
            best = prev
        if best is not None:
            self.history[i].append(best)
