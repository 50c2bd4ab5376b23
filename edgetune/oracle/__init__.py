"""The reference: LiteRT's interpreter, how edgetune's outputs agree with it, and the
side-by-side comparison (`edgetune compare`)."""

from .agreement import Agreement, agreement
from .compare import compare_with_litert, comparison_lines
from .litert import LiteRTModel

__all__ = ["Agreement", "LiteRTModel", "agreement", "compare_with_litert", "comparison_lines"]
