"""A model's tasks for a board: the spine's second stage (model -> tasks -> search -> build)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .lower import lower
from .task import Task, extract_tasks

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model


@dataclass
class ModelTasks:
    """A model lowered for a board: the fused module (tuned and later built) and its tasks."""

    target: Any
    fused: Any  # Relax IRModule of fused primitive functions
    tasks: list[Task]  # heaviest first (FLOPs x weight)

    def __iter__(self):
        return iter(self.tasks)

    def __len__(self) -> int:
        return len(self.tasks)

    def totals(self) -> dict:
        """The whole model's tasks, families, calls and MFLOPs (each call's FLOPs x calls)."""
        tasks = self.tasks
        return {
            "tasks": len(tasks),
            "families": len({t.family for t in tasks}),
            "calls": sum(t.weight for t in tasks),
            "mflops": round(sum(t.flops * t.weight for t in tasks) / 1e6, 3),
        }

    def summary(self) -> str:
        """One line: tasks, families, calls and FLOPs of the whole model."""
        n = self.totals()
        return (
            f"{n['tasks']} tasks in {n['families']} families, {n['calls']} calls, "
            f"{n['mflops']:.1f} MFLOPs"
        )


def for_model(model: Model, board: Board) -> ModelTasks:
    """Lower `model` for `board`'s target and extract its tuning tasks."""
    target = board.target()
    fused = lower(model.mod, target)
    return ModelTasks(target, fused, extract_tasks(fused, target))
