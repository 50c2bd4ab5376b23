"""The features edgetune's cost models score: MetaSchedule's per-store features of a candidate
whose requantization sign corrections are read once.

TFLite's integer rounding (`quant.fixed_point`) corrects for negative values with
`x - ((y >> 63) & c)`, y an expression of x: a TIR expression has no shared subterms, so y is a
second copy of the whole requantized value, and a fused kernel nests them (a residual ADD: its
output's requantization around its inputs' around the conv's: the conv's accumulator read
4 times). MetaSchedule's feature extraction walks every copy: 66 ms per candidate on
tiny_int8's conv+ADD kernel, 5 ms without the ADD, so an 8-trial tune spent half its time
there. LLVM computes y once (common subexpressions), so the features see `(0 >> 63) & c` in its
place: the same blocks, loops and loads as the machine code, 3x faster to extract
(`test_family_cost_model`). Kernels without the pattern (every float kernel) get MetaSchedule's
features unchanged.
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object

from ..quant.fixed_point import SIGN_SHIFT
from ..tvm_api import ms, s_tir


def _sign_read_once(sub: Any) -> Any:
    """`x - ((y >> 63) & c)` as `x - ((0 >> 63) & c)`; any other subtraction unchanged."""
    from tvm.ir.prim import expr

    mask = sub.b
    if not (isinstance(mask, expr.BitwiseAnd) and isinstance(mask.a, expr.RShift)):
        return sub
    shift = mask.a
    if getattr(shift.b, "value", None) != SIGN_SHIFT:
        return sub
    zero = expr.IntImm(shift.a.ty, 0)
    return expr.Sub(sub.a, expr.BitwiseAnd(expr.RShift(zero, shift.b), mask.b))


def feature_view(mod: Any) -> Any:
    """The module the features are extracted from (the same object when nothing changes)."""
    import tvm_ffi
    from tvm.ir.prim import expr

    return tvm_ffi.structural_map(mod, ((expr.Sub, _sign_read_once),), order="post")


@derived_object
class SignReadOnceFeatures(ms.feature_extractor.PyFeatureExtractor):
    """PerStoreFeature on each candidate's `feature_view`."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = ms.feature_extractor.PerStoreFeature()

    def extract_from(self, context: Any, candidates: list[Any]) -> list[Any]:
        views = []
        for cand in candidates:
            mod = cand.sch.mod
            view = feature_view(mod)
            views.append(
                cand
                if view.same_as(mod)
                else ms.MeasureCandidate(s_tir.Schedule(view), cand.args_info)
            )
        return self.inner.extract_from(context, views)
