"""The record database: every measurement, on disk, resumable, tied to one model and board;
and the records library every tune adds to, shared by the models of a board."""

from .appends import AppendWatch
from .final import append_choice, read_choices, record_json
from .history import append_batch, read_batches, read_tasks, trials_by_task, write_tasks
from .layout import FAILED_RUN_SECS, MANIFEST, TUNING_RECORDS, WORKLOADS, cost_model_path
from .library import (
    KNOWN,
    NEW,
    SIMILAR,
    Library,
    LibraryFolder,
    LibraryRecords,
    library_folders,
    open_library,
    reused_in,
    workload_hash,
)
from .manifest import read_manifest, warm_start_folder
from .store import (
    RecordStore,
    RecordSummary,
    applicable_database,
    best_by_workload,
    best_latency_in,
    database_of,
    summarize_folder,
)

__all__ = [
    "AppendWatch",
    "FAILED_RUN_SECS",
    "KNOWN",
    "MANIFEST",
    "NEW",
    "SIMILAR",
    "TUNING_RECORDS",
    "WORKLOADS",
    "Library",
    "LibraryFolder",
    "LibraryRecords",
    "RecordStore",
    "RecordSummary",
    "append_batch",
    "append_choice",
    "applicable_database",
    "best_latency_in",
    "cost_model_path",
    "database_of",
    "library_folders",
    "open_library",
    "read_batches",
    "read_choices",
    "read_manifest",
    "read_tasks",
    "trials_by_task",
    "record_json",
    "reused_in",
    "best_by_workload",
    "summarize_folder",
    "warm_start_folder",
    "workload_hash",
    "write_tasks",
]
