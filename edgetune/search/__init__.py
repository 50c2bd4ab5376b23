"""Driving MetaSchedule's search over a model's tasks for a board."""

from .final import FAMILY, FINAL_TOP, RACE_MARGIN, RACE_ROUNDS, ROUNDS
from .tune import DEFAULT_SEARCH, SEARCHES, TuneResult, tune_model, tune_tir

__all__ = [
    "DEFAULT_SEARCH",
    "FAMILY",
    "FINAL_TOP",
    "RACE_MARGIN",
    "RACE_ROUNDS",
    "ROUNDS",
    "SEARCHES",
    "TuneResult",
    "tune_model",
    "tune_tir",
]
