"""Real int8: the integer rewrite of quantized models and target-specific operand preparation."""

from .rewrite import INTEGER_OPS, RewriteReport, integerize

__all__ = ["INTEGER_OPS", "RewriteReport", "integerize"]
