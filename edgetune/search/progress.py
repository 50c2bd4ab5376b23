"""Progress of a tuning run, fed by a MetaSchedule measure callback after every batch.

After each measured batch the callback updates `Progress`, appends the batch to the records
folder's batch log (`records.append_batch`: when, which task, each candidate's latency or
error) and hands `Progress` to a display: `PlainProgress` lines by default, a live terminal
view from `report.live` on a terminal.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tvm.ir.utils import derived_object

from .. import stop
from ..errors import RecordsError, last_line
from ..records import FAILED_RUN_SECS, AppendWatch, append_batch
from ..tasks.task import shorten
from ..tvm_api import ms
from .interrupt import stop_if_interrupted

ERROR_CHARS = 2000  # of a failed candidate's message kept in the batch log


def ms_text(seconds: float | None) -> str:
    """Milliseconds to 3 decimals, 4 significant digits under 1 ms ("0.004388 ms")."""
    if seconds is None:
        return "n/a"
    ms = seconds * 1e3
    return f"{ms:.3f} ms" if ms >= 1 else f"{ms:.4g} ms"


def duration_text(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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
    failures: Counter[str] = field(default_factory=Counter)  # last line of each error message
    # (trials in the folder, estimated end-to-end seconds or None) after each measured batch
    curve: list[tuple[int, float | None]] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    # (time, trials) at the end of the first batch: the pace is measured from there, as the
    # first batch carries the run's set-up (tasks, spaces, the library; workers started)
    paced_from: tuple[float, int] | None = None
    last_task: int | None = None  # the task of the latest batch
    previous_estimate_s: float | None = None  # the estimate before it last changed

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

    @property
    def done(self) -> int:
        """Trials in the records folder."""
        return self.resumed_trials + self.trials

    @property
    def elapsed_s(self) -> float:
        return time.time() - self.started

    @property
    def eta_s(self) -> float | None:
        """Seconds left at this session's pace since its first batch (until a second one:
        its first batch's, set-up included), None before its first batch."""
        if not self.trials:
            return None
        when, trials = self.paced_from or (self.started, 0)
        if self.trials == trials:
            when, trials = self.started, 0
        return max(self.budget - self.done, 0) * (time.time() - when) / (self.trials - trials)

    @property
    def estimate_change(self) -> float | None:
        """Relative change of the estimate when it last changed (-0.1: 10% faster)."""
        est, before = self.estimated_latency_s, self.previous_estimate_s
        return est / before - 1 if est is not None and before else None

    def record(
        self, task_id: int, builder_results: list[Any], runner_results: list[Any]
    ) -> list[dict[str, Any]]:
        """Count one measured batch; returns each candidate's outcome (mean `us` or `error`)."""
        before = self.estimated_latency_s
        self.last_task = task_id
        self.task_trials[task_id] += len(runner_results)
        self.trials += len(runner_results)
        outcomes: list[dict[str, Any]] = []
        for b, r in zip(builder_results, runner_results):
            if b.error_msg:
                self.failed_builds += 1
                self.failures[last_line(b.error_msg, "?", 200)] += 1
                outcomes.append({"error": "build", "message": str(b.error_msg)[:ERROR_CHARS]})
                continue
            secs = [float(s) for s in r.run_secs or []]
            mean = sum(secs) / len(secs) if secs else FAILED_RUN_SECS
            if r.error_msg or mean >= FAILED_RUN_SECS:
                self.failed_runs += 1
                self.failures[last_line(r.error_msg or "no run time", "?", 200)] += 1
                message = str(r.error_msg or "no run time")[:ERROR_CHARS]
                outcomes.append({"error": "run", "message": message})
                continue
            outcomes.append({"us": mean * 1e6})
            if self.best_s[task_id] is None or mean < self.best_s[task_id]:
                self.best_s[task_id] = mean
        after = self.estimated_latency_s
        if before is not None and after != before:
            self.previous_estimate_s = before
        if runner_results:  # an empty batch adds no point (the curve repeated its last)
            self.curve.append((self.done, after))
        if self.paced_from is None:
            self.paced_from = (time.time(), self.trials)
        return outcomes

    def status(self) -> str:
        """What the run stands at, without times: it changes only when a batch changes it."""
        change = self.estimate_change
        change_text = f" ({change:+.1%})" if change else ""
        task = ""
        if self.last_task is not None:
            task = f" | tuning {shorten(self.task_names[self.last_task])}"
        return (
            f"[{self.done}/{self.budget} trials] est. end-to-end "
            f"{ms_text(self.estimated_latency_s)}{change_text} | tasks measured "
            f"{self.tasks_measured}/{len(self.task_names)} | failed builds {self.failed_builds}, "
            f"failed runs {self.failed_runs}{task}"
        )

    def times(self) -> str:
        eta = self.eta_s
        eta_text = f", ETA {duration_text(eta)}" if eta is not None else ""
        return duration_text(self.elapsed_s) + eta_text

    def line(self) -> str:
        return f"{self.status()} | {self.times()}"

    def to_json(self) -> dict[str, Any]:
        est = self.estimated_latency_s
        return {
            "budget": self.budget,
            "resumed_trials": self.resumed_trials,
            "trials": self.trials,
            "failed_builds": self.failed_builds,
            "failed_runs": self.failed_runs,
            "estimated_latency_ms": est * 1e3 if est is not None else None,
            "elapsed_s": self.elapsed_s,
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


class PlainProgress:
    """Progress as plain lines (logs, pipes, --json): a line only when a batch measured
    something (trials, failures, the estimate); a batch with nothing new to measure for its
    task changes only the task's name."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream
        self._last: tuple | None = None

    def __call__(self, progress: Progress) -> None:
        p = progress
        key = (p.done, p.failed_builds, p.failed_runs, p.estimated_latency_s)
        if key != self._last:
            self._last = key
            print(f"{p.status()} | {p.times()}", file=self.stream or sys.stderr, flush=True)


@derived_object
class ProgressCallback(ms.measure_callback.PyMeasureCallback):
    """Feeds `Progress` after each measured batch, logs the batch and shows the progress.
    `ids` maps the tuning contexts to the progress's tasks when only some of them are searched."""

    def __init__(
        self,
        progress: Progress,
        on_batch: Callable[[Progress], None] | None = None,
        records_dir: str | Path | None = None,
        ids: list[int] | None = None,
        scaled: Callable[[], dict[str, Any] | None] | None = None,
    ):
        super().__init__()
        self.scaled = scaled  # how the latest batch was scaled from fewer CPUs (None: not)
        self.progress = progress
        self.on_batch = on_batch or PlainProgress()
        self.records_dir = records_dir
        self.appends = AppendWatch(records_dir) if records_dir is not None else None
        self.ids = ids or list(range(len(progress.task_names)))

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        task_id = self.ids[task_id]
        p = self.progress
        outcomes = p.record(task_id, list(builder_results), list(runner_results))
        if self.appends is not None and outcomes:
            try:
                self.appends.batch(len(outcomes))
            except RecordsError as err:
                raise stop.carry(err) from None
            est = p.estimated_latency_s
            append_batch(
                self.records_dir,
                {
                    "time": time.time(),
                    "session": p.started,
                    "task": p.task_names[task_id],
                    "trials": p.done,
                    "estimate_ms": est * 1e3 if est is not None else None,
                    "candidates": outcomes,
                    **({"scaled": how} if self.scaled and (how := self.scaled()) else {}),
                },
            )
        self.on_batch(p)
        stop_if_interrupted()  # the batch is in the records: a clean place to stop
