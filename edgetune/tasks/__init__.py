"""Tuning tasks: a model lowered for a board into fused primitive functions, deduplicated and
weighted (`for_model`), each with its family and kernel kind."""

from .lower import lower
from .model_tasks import ModelTasks, for_model
from .task import MODULE_EQUALITY, Task, extract_tasks

__all__ = ["MODULE_EQUALITY", "ModelTasks", "Task", "extract_tasks", "for_model", "lower"]
