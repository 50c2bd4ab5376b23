"""Driving MetaSchedule's search over a model's tasks for a board."""

from .driver import SEARCHES, TuneResult, tune_model

__all__ = ["SEARCHES", "TuneResult", "tune_model"]
