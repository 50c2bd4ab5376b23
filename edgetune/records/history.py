"""How a records folder was tuned: its tasks and one line per measured batch, for `report`.

MetaSchedule's records hold each candidate's trace and run times, but neither when it was
measured nor why a failed candidate failed, and they name no task. `tune` therefore writes
`edgetune-tasks.json` (the model's tasks and the software that tuned them, rewritten by every
run) and appends one JSON line per measured batch to `logs/edgetune-batches.jsonl` (time, task,
each candidate's latency or error). Folders tuned before these files existed have neither.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import RecordsError
from .layout import BATCH_LOG, LOGS, TASKS


def write_tasks(
    folder: str | Path, tasks: list[dict[str, Any]], tuned_with: dict[str, Any]
) -> None:
    """Record the model's tasks (`Task.describe()` rows) and what tuned them (versions, board)."""
    data = {"tasks": tasks, "tuned_with": tuned_with}
    (Path(folder) / TASKS).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def read_tasks(folder: str | Path) -> dict[str, Any] | None:
    """What `write_tasks` wrote, None if the folder has no task list."""
    path = Path(folder) / TASKS
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("tasks"), list):
        raise RecordsError(
            f"{path}: damaged task list (not what edgetune writes); the folder's next `edgetune "
            "tune` writes it again"
        )
    return data


def append_batch(folder: str | Path, batch: dict[str, Any]) -> None:
    """Append one measured batch to the folder's batch log."""
    path = Path(folder) / LOGS / BATCH_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(batch) + "\n")


def read_batches(folder: str | Path) -> list[dict[str, Any]]:
    """Every batch logged in the folder, oldest first (a line cut short by a kill is skipped)."""
    path = Path(folder) / LOGS / BATCH_LOG
    if not path.is_file():
        return []
    batches = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            batches.append(json.loads(line))
        except ValueError:
            continue
    return batches


def trials_by_task(batches: list[dict[str, Any]]) -> Counter[str]:
    """Candidates measured per task name in a batch log (`read_batches`): a task's trials in
    its records folder, every session's."""
    trials: Counter[str] = Counter()
    for batch in batches:
        trials[batch["task"]] += len(batch["candidates"])
    return trials
