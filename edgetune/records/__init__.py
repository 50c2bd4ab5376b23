"""The record database: every measurement, on disk, resumable, tied to one model and board."""

from .history import append_batch, read_batches, read_tasks, write_tasks
from .layout import FAILED_RUN_SECS, MANIFEST, TUNING_RECORDS, WORKLOADS, cost_model_path
from .manifest import read_manifest, warm_start_folder
from .store import RecordStore, RecordSummary, database_of, summarize_folder

__all__ = [
    "FAILED_RUN_SECS",
    "MANIFEST",
    "TUNING_RECORDS",
    "WORKLOADS",
    "RecordStore",
    "RecordSummary",
    "append_batch",
    "cost_model_path",
    "database_of",
    "read_batches",
    "read_manifest",
    "read_tasks",
    "summarize_folder",
    "warm_start_folder",
    "write_tasks",
]
