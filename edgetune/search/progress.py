"""Progress of a tuning run, fed by a MetaSchedule measure callback after every batch."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tvm.ir.utils import derived_object

from ..records import FAILED_RUN_SECS
from ..tvm_api import ms
from .interrupt import stop_if_interrupted


@dataclass
class Progress:
    """Running totals of one tuning run (this session's trials, plus those resumed)."""

    task_names: list[str]
    weights: list[int]
    budget: int
    resumed_trials: int = 0
    trials: int = 0
    failed_builds: int = 0
    failed_runs: int = 0
    best_s: list[float | None] = field(default_factory=list)
    task_trials: list[int] = field(default_factory=list)
    # (trials in the folder, estimated end-to-end seconds or None) after each measured batch
    curve: list[tuple[int, float | None]] = field(default_factory=list)
    started: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        n = len(self.task_names)
        self.best_s = self.best_s or [None] * n
        self.task_trials = self.task_trials or [0] * n

    @property
    def estimated_latency_s(self) -> float | None:
        """Sum of weight x best latency over tasks, once every task has a measurement."""
        if any(b is None for b in self.best_s):
            return None
        return sum(w * b for w, b in zip(self.weights, self.best_s))  # type: ignore[misc]

    @property
    def tasks_measured(self) -> int:
        return sum(b is not None for b in self.best_s)

    def record(self, task_id: int, builder_results: list[Any], runner_results: list[Any]) -> None:
        self.task_trials[task_id] += len(runner_results)
        self.trials += len(runner_results)
        for b, r in zip(builder_results, runner_results):
            if b.error_msg:
                self.failed_builds += 1
                continue
            if r.error_msg or not r.run_secs:
                self.failed_runs += 1
                continue
            secs = [float(s) for s in r.run_secs]
            mean = sum(secs) / len(secs)
            if mean < FAILED_RUN_SECS and (
                self.best_s[task_id] is None or mean < self.best_s[task_id]
            ):
                self.best_s[task_id] = mean
        self.curve.append((self.resumed_trials + self.trials, self.estimated_latency_s))

    def line(self) -> str:
        done = self.resumed_trials + self.trials
        est = self.estimated_latency_s
        est_text = f"{est * 1e3:.3f} ms" if est is not None else "n/a"
        elapsed = time.time() - self.started
        return (
            f"[{done}/{self.budget} trials] tasks measured {self.tasks_measured}/"
            f"{len(self.task_names)} | est. end-to-end {est_text} | failed builds "
            f"{self.failed_builds}, failed runs {self.failed_runs} | {elapsed:.0f}s"
        )

    def to_json(self) -> dict[str, Any]:
        est = self.estimated_latency_s
        return {
            "budget": self.budget,
            "resumed_trials": self.resumed_trials,
            "trials": self.trials,
            "failed_builds": self.failed_builds,
            "failed_runs": self.failed_runs,
            "estimated_latency_ms": est * 1e3 if est is not None else None,
            "elapsed_s": time.time() - self.started,
            "curve": [[n, est * 1e3 if est is not None else None] for n, est in self.curve],
            "tasks": [
                {
                    "name": n,
                    "weight": w,
                    "trials": t,
                    "best_us": b * 1e6 if b is not None else None,
                }
                for n, w, t, b in zip(self.task_names, self.weights, self.task_trials, self.best_s)
            ],
        }


@derived_object
class ProgressCallback(ms.measure_callback.PyMeasureCallback):
    """Feeds `Progress` after each measured batch and prints a status line. `ids` maps the
    tuning contexts to the progress's tasks when only some of them are searched."""

    def __init__(
        self,
        progress: Progress,
        printer: Callable[[str], None] | None = None,
        ids: list[int] | None = None,
    ):
        super().__init__()
        self.progress = progress
        self.ids = ids or list(range(len(progress.task_names)))
        self.printer = printer or (lambda s: print(s, file=sys.stderr, flush=True))

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        task_id = self.ids[task_id]
        self.progress.record(task_id, list(builder_results), list(runner_results))
        name = self.progress.task_names[task_id]
        self.printer(f"{self.progress.line()} | last: {name}")
        stop_if_interrupted()  # the batch is in the records: a clean place to stop
