"""Real int8 on Relax: the integer rewrite of TVM's QDQ import, fixed-point requantization,
integer kernels, target-specific operand preparation and dot-product intrinsics."""

from .rewrite import INTEGER_OPS, integerize

__all__ = ["INTEGER_OPS", "integerize"]
