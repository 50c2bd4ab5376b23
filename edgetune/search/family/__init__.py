"""FamilySeer-style search on MetaSchedule: per-family cost models, foresee rounds, gain scheduler.

`prepare_family_search` assembles the pieces that `search.driver.tune_model(search="family")`
hands to MetaSchedule's `tune_tasks`: the dispatching cost model (restored from the records
folder, else warm-started from another records folder of the same board), the task scheduler
and the foresee plan shared with each task's search strategy. The families' models are not
pre-trained on the records library: trained on other models' records they ranked a new
model's depthwise convs worse than chance (docs/search.md, "Records library").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ...records import warm_start_folder
from .cost_model import FamilyCostModel
from .foresee import ForeseePlan, ForeseeSearch
from .scheduler import FamilyScheduler, SchedulerTask

if TYPE_CHECKING:
    from ...board import Board
    from ...tasks import Task

__all__ = [
    "FamilyCostModel",
    "FamilyScheduler",
    "FamilySearch",
    "ForeseePlan",
    "ForeseeSearch",
    "family_rounds",
    "prepare_family_search",
]


@dataclass
class FamilySearch:
    """Everything `tune_tasks` needs for a family search, plus what was restored."""

    cost_model: FamilyCostModel
    scheduler: FamilyScheduler
    plan: ForeseePlan
    per_round: int
    foresee_trials: int
    restored: list[str]  # families whose model state came from this records folder
    warm_started: list[str]  # families whose model state came from --warm-start


def family_rounds(budget: int, num_tasks: int, num_families: int) -> tuple[int, int]:
    """(candidates per full round, candidates per foresee round) for a budget.

    The warm-up is one full round per family plus one foresee round per other task; aim for it
    to use about a quarter of the budget. A foresee round is a quarter of a full round, but at
    least half of it up to 4 candidates: a foresee round's light evolution costs as much as
    building several candidates, and with 2 a short tune spent most of its time searching
    (docs/search.md, session 45). Above the floors the warm-up takes up to two fifths of the
    budget.
    """
    per_round = max(4, min(64, budget // max(1, 4 * num_families + num_tasks - num_families)))
    return per_round, max(per_round // 4, min(4, per_round // 2))


def prepare_family_search(
    tasks: list[Task],
    records_dir: str | Path,
    budget: int,
    board: Board,
    *,
    warm_start: str | Path | None = None,
    known_best: list[float | None] | None = None,
    per_round: int | None = None,
    num_tuning_cores: int | None = None,
) -> FamilySearch:
    """Cost model, scheduler and foresee plan for tuning `tasks` into `records_dir`.

    `known_best` holds each task's best latency in the records already (a resumed run), so
    measured tasks skip the warm-up."""
    families = {t.name: t.family for t in tasks}
    auto_round, foresee = family_rounds(budget, len(tasks), len(set(families.values())))
    per_round = per_round or auto_round
    foresee = min(foresee, per_round)
    cost_model = FamilyCostModel(
        families, records_dir, warmup_samples=per_round, num_tuning_cores=num_tuning_cores
    )
    other = warm_start_folder(warm_start, board) if warm_start else None
    restored = cost_model.restore(records_dir)
    warm_started = cost_model.restore(other, skip=restored) if other else []
    plan = ForeseePlan()
    scheduler = FamilyScheduler(
        [SchedulerTask(t.name, t.family, float(t.weight), max(t.flops, 1.0)) for t in tasks],
        plan,
        per_round=per_round,
        foresee_trials=foresee,
        known_best=known_best,
        budget=budget,
    )
    return FamilySearch(cost_model, scheduler, plan, per_round, foresee, restored, warm_started)
