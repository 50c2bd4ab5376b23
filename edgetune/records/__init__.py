"""The record database: every measurement, on disk, resumable, tied to one model and board."""

from .store import RecordStore, RecordSummary

__all__ = ["RecordStore", "RecordSummary"]
