"""Running built artifacts here: their metadata, inputs and outputs, loading, timing."""

from .artifact import ArtifactMeta, read_artifact_meta, write_artifact_meta
from .inputs import load_inputs, save_outputs
from .local import LoadedModel, load_artifact, load_executable, load_library
from .timing import Latency, time_calls

__all__ = [
    "ArtifactMeta",
    "Latency",
    "LoadedModel",
    "load_artifact",
    "load_executable",
    "load_inputs",
    "load_library",
    "read_artifact_meta",
    "save_outputs",
    "time_calls",
    "write_artifact_meta",
]
