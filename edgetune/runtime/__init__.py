"""Running built artifacts: load, feed inputs, time."""

from .inputs import load_inputs, save_outputs
from .local import LoadedModel, load_artifact, load_executable
from .timing import Latency, time_calls

__all__ = [
    "Latency",
    "LoadedModel",
    "load_artifact",
    "load_executable",
    "load_inputs",
    "save_outputs",
    "time_calls",
]
