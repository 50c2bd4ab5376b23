"""What a records folder says about its tuning: curves, per-task results, failures, set-up.

Read from the folder's files alone (manifest, task list, batch log, MetaSchedule's records, the
final choices), so a report needs neither the model nor TVM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RecordsError
from ..records import (
    MANIFEST,
    best_by_workload,
    read_batches,
    read_choices,
    read_manifest,
    summarize_folder,
    trials_by_task,
)
from ..records import read_tasks as read_task_list


@dataclass
class TaskResult:
    """One task of the model and what tuning found for it."""

    name: str
    weight: int
    flops: float
    family: str
    path: str  # kernel path: int8, qdq or float
    trials: int = 0
    best_us: float | None = None  # the search's best
    final_us: float | None = None  # the final choice, re-measured (`search.final`)
    library: str | None = None  # reused (0 trials), known, similar or new; None: no library
    chosen_from: str | None = None  # the final choice's source: own, library or a member's name

    @property
    def latency_us(self) -> float | None:
        """The latency of the schedule builds use: the final choice's, else the search's best."""
        return self.final_us if self.final_us is not None else self.best_us

    @property
    def gflops(self) -> float | None:
        latency = self.latency_us
        return self.flops / latency / 1e3 if latency else None

    @property
    def total_us(self) -> float | None:
        """Weight x latency: this task's part of the estimated end-to-end latency."""
        latency = self.latency_us
        return self.weight * latency if latency is not None else None


@dataclass
class FailureGroup:
    """Failed candidates with the same kind and headline of error."""

    kind: str  # build | run
    headline: str
    count: int = 0
    tasks: set[str] = field(default_factory=set)
    example: str = ""


@dataclass
class TuningRun:
    """A records folder, as the report shows it."""

    folder: Path
    manifest: dict[str, Any]
    tuned_with: dict[str, Any]
    tasks: list[TaskResult]
    batches: list[dict[str, Any]]
    records: int  # candidates measured here (MetaSchedule's records but those from a library)
    failed_records: int

    @property
    def label(self) -> str:
        return self.folder.name or str(self.folder)

    @property
    def estimate_ms(self) -> float | None:
        """Estimated end-to-end latency (sum of weight x latency), once every task is measured."""
        parts = [t.total_us for t in self.tasks]
        if not parts or any(p is None for p in parts):
            return None
        return sum(parts) / 1e3  # type: ignore[arg-type]

    def curve_by_trials(self) -> list[tuple[float, float]]:
        """(trials in the folder, estimated end-to-end ms) after each batch with an estimate."""
        return [(b["trials"], b["estimate_ms"]) for b in self.batches if b.get("estimate_ms")]

    def curve_by_time(self) -> list[tuple[float, float]]:
        """(tuning seconds, estimated end-to-end ms): sessions laid end to end, pauses left out."""
        points, offset, session, last = [], 0.0, None, 0.0
        for b in self.batches:
            if b["session"] != session:
                offset, session = offset + last, b["session"]
            last = b["time"] - session
            if b.get("estimate_ms"):
                points.append((offset + last, b["estimate_ms"]))
        return points

    @property
    def tuning_s(self) -> float | None:
        """Seconds spent tuning, summed over sessions (None without a batch log)."""
        ends: dict[float, float] = {}
        for b in self.batches:
            ends[b["session"]] = b["time"] - b["session"]
        return sum(ends.values()) if ends else None

    @property
    def scaled_trials(self) -> int:
        """Candidates timed on fewer CPUs than the board has (a busy host), times scaled."""
        return sum(len(b["candidates"]) for b in self.batches if b.get("scaled"))

    def failures(self) -> list[FailureGroup]:
        """Failed candidates of the batch log grouped by kind and headline, most frequent first."""
        groups: dict[tuple[str, str], FailureGroup] = {}
        for b in self.batches:
            for c in b["candidates"]:
                if "error" not in c:
                    continue
                key = (c["error"], headline(c.get("message", "")))
                group = groups.setdefault(key, FailureGroup(*key, example=c.get("message", "")))
                group.count += 1
                group.tasks.add(b["task"])
        return sorted(groups.values(), key=lambda g: -g.count)

    def library_counts(self) -> dict[str, int] | None:
        """Tasks per library status, and final choices taken from the library and from family
        members; None if the tune used no records library."""
        if all(t.library is None for t in self.tasks):
            return None
        counts = {s: 0 for s in ("reused", "known", "similar", "new")}
        for t in self.tasks:
            counts[t.library or "new"] += 1
        sources = [t.chosen_from for t in self.tasks if t.chosen_from]
        counts["chosen_from_library"] = sources.count("library")
        counts["chosen_from_members"] = sum(s not in ("own", "library") for s in sources)
        return counts

    def summary(self) -> dict[str, Any]:
        est, secs = self.estimate_ms, self.tuning_s
        return {
            "records": str(self.folder),
            "model": self.manifest.get("model"),
            "board": self.manifest.get("board"),
            "trials": self.records,
            "failed": self.failed_records,
            "trials_timed_scaled": self.scaled_trials,
            "tasks_measured": sum(t.best_us is not None for t in self.tasks),
            "tasks": len(self.tasks),
            "library": self.library_counts(),
            "estimated_latency_ms": est,
            "elapsed_s": secs,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "tuned_with": self.tuned_with,
            "curve_by_trials": self.curve_by_trials(),
            "curve_by_time": self.curve_by_time(),
            "per_task": [
                {**vars(t), "gflops": t.gflops, "share": share}
                for t, share in zip(self.tasks, shares(self.tasks))
            ],
            "failures": [{**vars(g), "tasks": sorted(g.tasks)} for g in self.failures()],
        }


def headline(message: str) -> str:
    """The line that names an error: the first, or the last of a traceback."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    if not lines:
        return "(no message)"
    return (lines[-1] if lines[0].startswith("Traceback") else lines[0])[:200]


def shares(tasks: list[TaskResult]) -> list[float | None]:
    """Each task's share of the measured tasks' summed weight x best latency."""
    total = sum(t.total_us or 0 for t in tasks)
    return [t.total_us / total if t.total_us is not None and total else None for t in tasks]


def load_run(folder: str | Path) -> TuningRun:
    """Read a records folder; RecordsError if it is not one or was tuned before task lists."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest is None:
        if not folder.exists():
            raise RecordsError(f"{folder}: no such folder (a records folder of `edgetune tune`)")
        raise RecordsError(f"{folder}: not an edgetune records folder (no {MANIFEST})")
    listed = read_task_list(folder)
    if listed is None:
        raise RecordsError(
            f"{folder}: no task list yet (its tune stopped before it began, or an older "
            "edgetune tuned it): run its `edgetune tune` "
            "command again to add it"
        )
    batches = read_batches(folder)
    tasks = [
        TaskResult(
            t["name"], t["weight"], t["flops"], t["family"], t["path"], library=t.get("library")
        )
        for t in listed["tasks"]
    ]
    by_name = {t.name: t for t in tasks}
    trials = trials_by_task(batches)
    for t in tasks:
        t.trials = trials[t.name]
    for b in batches:
        task = by_name.get(b["task"])
        if task is None:
            continue
        for c in b["candidates"]:
            if "us" in c and (task.best_us is None or c["us"] < task.best_us):
                task.best_us = c["us"]
    reused = {
        t["workload"]: by_name[t["name"]] for t in listed["tasks"] if t.get("library") == "reused"
    }
    if reused:  # measured by the library, not in this folder's batches: their copied records
        for h, secs in best_by_workload(folder).items():
            if h in reused:
                reused[h].best_us = secs * 1e6
    for entry in read_choices(folder).values():
        task = by_name.get(entry["task"])
        if task is not None and entry["chosen"] is not None:
            chosen = entry["candidates"][entry["chosen"]]
            task.final_us = chosen["final_us"]
            source = chosen.get("from", "own")
            task.chosen_from = "library" if source.startswith("library:") else source
    counts = summarize_folder(folder)
    return TuningRun(
        folder,
        manifest,
        listed["tuned_with"],
        tasks,
        batches,
        counts.records - counts.reused,
        counts.failed,
    )
