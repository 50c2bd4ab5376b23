"""Driving MetaSchedule's search over a model's tasks for a board."""

from .driver import TuneResult, tune_model

__all__ = ["TuneResult", "tune_model"]
