"""The search's builds of each task's fastest candidates, kept for the final phase.

MetaSchedule removes every candidate's build once it is measured (`RemoveBuildArtifact`). The
final phase re-measures each task's `top` fastest search records, so it would build them again:
in a 100-trial MobileNetV2 tune, about half of its ~180 builds. `KeptBuilds` takes the place of
that removal: it keeps the builds of each task's `top` fastest candidates measured in this run
(ranked by the mean of their run times, as the final phase ranks the records) and removes the
others as they fall out of the top. The final phase takes the build of any candidate whose
task module and schedule (`schedule_key`) it holds instead of building it again; `close()`
removes what is left. Records measured by an earlier run are simply built again.

Builds are found by task and schedule, not by schedule alone: a trace names blocks and
decisions, not shapes, so two tasks' schedules can read alike (MediaPipe's two reshape +
concatenate kernels; a family member's schedule replayed on a task), and the final phase
timed one task's build with another's arguments ("run: expected to be compact array").
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object

from ..tvm_api import ms, structural_hash
from .schedule_key import schedule_key


@derived_object
class KeptBuilds(ms.measure_callback.PyMeasureCallback):
    """A measure callback keeping the builds of each task's `top` fastest candidates."""

    def __init__(self, top: int):
        self.top = top
        self._tasks: dict[int, list[tuple[float, Any, str]]] = {}  # (mean s, candidate, path)
        self._modules: dict[int, int] = {}  # task id -> its module's structural hash
        self._paths: dict[tuple[int, str], str] = {}  # (module, schedule) -> build, after search

    def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
        task_id = int(task_id)
        if task_id not in self._modules:
            self._modules[task_id] = structural_hash(task_scheduler.tasks_[task_id].ctx.mod)
        kept = self._tasks.setdefault(task_id, [])
        for candidate, built, ran in zip(measure_candidates, builder_results, runner_results):
            secs = [float(s) for s in ran.run_secs or []]
            if built.artifact_path is None:
                continue
            if built.error_msg is None and ran.error_msg is None and secs:
                kept.append((sum(secs) / len(secs), candidate, built.artifact_path))
            else:
                ms.utils.remove_build_dir(built.artifact_path)
        kept.sort(key=lambda item: item[0])
        for _, _, path in kept[self.top :]:
            ms.utils.remove_build_dir(path)
        del kept[self.top :]

    def take(self, mod: Any, key: str) -> str | None:
        """The kept build of task module `mod` with the schedule `schedule_key` `key` (the caller
        removes it when done), None if none is kept."""
        if self._tasks:  # the first call after the search: index the kept builds
            for task_id, kept in self._tasks.items():
                for _, candidate, path in kept:
                    self._paths[(self._modules[task_id], schedule_key(candidate.sch.trace))] = path
            self._tasks.clear()
        return self._paths.pop((structural_hash(mod), key), None)

    def close(self) -> None:
        """Remove every build still kept."""
        for kept in self._tasks.values():
            for _, _, path in kept:
                ms.utils.remove_build_dir(path)
        for path in self._paths.values():
            ms.utils.remove_build_dir(path)
        self._tasks.clear()
        self._paths.clear()
