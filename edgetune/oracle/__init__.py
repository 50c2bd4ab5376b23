"""The reference: LiteRT's interpreter, and how edgetune's outputs agree with it."""

from .agreement import Agreement, agreement
from .litert import LiteRTModel

__all__ = ["Agreement", "LiteRTModel", "agreement"]
