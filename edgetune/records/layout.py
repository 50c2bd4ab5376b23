"""What a records folder holds, by file name: the one place that knows its format.

- `edgetune-records.json`: the manifest (model, board, target, versions);
- `database_workload.json`, `database_tuning_record.json`: MetaSchedule's JSONDatabase, one
  measured candidate per line, appended as soon as its batch is measured;
- `cost_models/<family>.tar`: the family search's per-family cost-model state (and
  `all-tasks.tar`, its model of every task's measurements);
- `edgetune-tasks.json`: the model's tasks and what tuned them (`history.py`);
- `final-choices.jsonl`: each task's top candidates re-measured at the end of a tune, and the
  chosen record that builds use (`final.py`);
- `logs/`: MetaSchedule's logs, one file per task plus the task scheduler's, and edgetune's
  batch log `edgetune-batches.jsonl` (when each batch was measured, latencies, errors);
- `edgetune.lock`: held (flock) by the one process writing the folder (`lock.py`).
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "edgetune-records.json"
WORKLOADS = "database_workload.json"
TUNING_RECORDS = "database_tuning_record.json"
COST_MODELS = "cost_models"
LOGS = "logs"
TASKS = "edgetune-tasks.json"
FINAL_CHOICES = "final-choices.jsonl"
BATCH_LOG = "edgetune-batches.jsonl"  # in LOGS
FAILED_RUN_SECS = 1e9  # MetaSchedule stores 1e10 s for candidates that failed to build or run


def cost_model_path(records_dir: str | Path, family: str) -> Path:
    """Where a records folder keeps the cost-model state of a task family."""
    return Path(records_dir) / COST_MODELS / f"{family}.tar"
