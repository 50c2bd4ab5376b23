"""Float division by a constant as a multiplication by its reciprocal.

TFLite's HARD_SWISH imports as x * relu6(x + 3) / 6 and average pooling as sum / count; TVM
emits a true division for them (x86 `vdivps`: on the host board one 16-lane division issues
every ~5 cycles where ten multiplies could), in the epilogue of every conv that ends in a hard
swish (MediaPipe's selfie segmenter has eleven). XNNPACK computes both with a multiplication by
the reciprocal; so does this pass, after TVM's lowering (constants are folded by then, e.g. a
pool's count), for float32 divisions whose divisor is a constant or a broadcast constant. The
result moves by at most one unit in the last place (division rounds once, the reciprocal and
the product round twice).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _constant(expr: Any) -> float | None:
    """The value of a float constant, or of a broadcast of one."""
    from ..tvm_api import tirx

    if isinstance(expr, tirx.Broadcast):
        expr = expr.value
    return float(expr.value) if isinstance(expr, tirx.FloatImm) else None


def _rewrite(div: Any) -> Any:
    """a / c -> a * (1 / c) for float32 a and a constant c whose reciprocal is a normal float."""
    from ..tvm_api import tirx

    value = _constant(div.b)
    if not str(div.ty).startswith("float32") or not value or not math.isfinite(value):
        return div
    with np.errstate(over="ignore"):
        inverse = float(np.float32(1.0 / value))
    if not math.isfinite(inverse) or abs(inverse) < np.finfo(np.float32).tiny:
        return div  # the reciprocal overflows or is subnormal (too few digits)
    reciprocal = tirx.const(inverse, "float32")
    if isinstance(div.b, tirx.Broadcast):
        reciprocal = tirx.Broadcast(reciprocal, div.b.lanes)
    return tirx.Mul(div.a, reciprocal)


def constant_divides() -> Any:
    """The PrimFunc pass: every CPU function's float32 divisions by constants rewritten."""
    from ..tvm_api import tirx
    from .rewrite_pass import cpu_target, target_rewrite_pass

    return target_rewrite_pass("ConstantDivides", cpu_target, tirx.Div, _rewrite, "post")
