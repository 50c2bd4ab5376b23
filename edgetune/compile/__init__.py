"""Compiling a whole model with its records and exporting the board's library."""

from .library import BuiltModel, Library, build_library, build_model, export_model

__all__ = ["BuiltModel", "Library", "build_library", "build_model", "export_model"]
