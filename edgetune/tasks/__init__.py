"""Tuning tasks: the fused primitive functions of a model, deduplicated and weighted."""

from .task import MODULE_EQUALITY, Task, extract_tasks

__all__ = ["MODULE_EQUALITY", "Task", "extract_tasks"]
