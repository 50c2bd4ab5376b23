"""Compiling a whole model: lowering for tuning, applying records, exporting the artifact."""

from .artifact import ArtifactMeta, read_artifact_meta, write_artifact_meta
from .build import build_model, export_model
from .pipeline import lower_for_tuning

__all__ = [
    "ArtifactMeta",
    "build_model",
    "export_model",
    "lower_for_tuning",
    "read_artifact_meta",
    "write_artifact_meta",
]
