"""Real int8: the integer rewrite of quantized models and target-specific operand preparation."""

from .rewrite import INTEGER_OPS, integerize
from .validate import check_quantization

__all__ = ["INTEGER_OPS", "check_quantization", "integerize"]
