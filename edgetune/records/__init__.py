"""The record database: every measurement, on disk, resumable, tied to one model and board."""

from .layout import FAILED_RUN_SECS, MANIFEST, TUNING_RECORDS, WORKLOADS, cost_model_path
from .manifest import warm_start_folder
from .store import RecordStore, RecordSummary, database_of

__all__ = [
    "FAILED_RUN_SECS",
    "MANIFEST",
    "TUNING_RECORDS",
    "WORKLOADS",
    "RecordStore",
    "RecordSummary",
    "cost_model_path",
    "database_of",
    "warm_start_folder",
]
