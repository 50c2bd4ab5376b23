"""Conv epilogues requantized in float64 on AVX-512 targets, exactly.

The folded int64 requantization (fixed_point.FoldedRequantization) costs about 23 uops per 16
outputs on AVX-512: 32x32 -> 64 multiplies work on even lanes only, so the lanes are shuffled
apart and back around 64-bit adds and shifts. For convs whose accumulator is small enough
(rewrite.ACC_BOUND_ATTR: 255 x the largest per-channel sum of |weights|), the same result is
computed in float64 with no rounding anywhere (fixed_point.Float64Requantization). Runs after
quant.operands, so the constants already hold the VNNI shift correction, and AMX kernels keep
their own epilogue. Other targets (aarch64's smull is already a widening multiply on every
lane) keep the int64 form.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from tvm import relax

from .fixed_point import FoldedRequantization
from .kernels import requantize_per_channel_float64, requantize_per_channel_folded
from .rewrite import ACC_BOUND_ATTR, CLAMP_ATTR


def wants_float64(target: Any) -> bool:
    """Whether `target` is an llvm x86 target with AVX-512 (16 int32 -> 2 x 8 float64 lanes)."""
    from tvm.target.codegen import target_has_features

    if str(target.kind.name) != "llvm" or str(target.attrs.get("mtriple", "")).startswith(
        "aarch64"
    ):
        return False
    try:
        return bool(target_has_features("avx512f", target))
    except Exception:  # a CPU name LLVM does not know
        return False


@relax.expr_functor.mutator
class _Float64Epilogues(relax.PyExprMutator):
    def visit_call_(self, call: Any) -> Any:
        from tvm.ir.expr import Constant

        call = self.visit_expr_post_order(call)
        if not (
            getattr(call.op, "name", None) == "relax.call_tir"
            and call.args[0].name_hint.startswith(requantize_per_channel_folded.__name__)
        ):
            return call
        attrs = self.builder_.get()[call.args[0]].attrs
        acc, *consts = call.args[1].fields
        if ACC_BOUND_ATTR not in attrs or not all(isinstance(c, Constant) for c in consts):
            return call
        folded = FoldedRequantization(*(c.value.numpy() for c in consts))
        exact = folded.in_float64(int(attrs[ACC_BOUND_ATTR]))
        if exact is None:
            return call
        lo, hi = (int(v) for v in attrs[CLAMP_ATTR])
        dtype = str(self.builder_.normalize(call).ty.dtype)
        return self.builder_.emit_te(
            partial(requantize_per_channel_float64, clamp=(lo, hi, dtype)),
            acc,
            *(relax.const(a, str(a.dtype)) for a in exact.arrays()),
            primfunc_name_hint=requantize_per_channel_float64.__name__,
            primfunc_attrs={CLAMP_ATTR: [lo, hi]},
        )


def requantize_in_float64(mod: Any, target: Any) -> Any:
    """Every folded conv requantization of `mod` that float64 computes exactly, in float64,
    where the target wants it (`wants_float64`)."""
    if not wants_float64(target):
        return mod
    rewriter = _Float64Epilogues(mod)
    for gv, func in mod.functions_items():
        if isinstance(func, relax.Function):
            rewriter.builder_.update_func(gv, rewriter.visit_expr(func))
    return relax.transform.DeadCodeElimination()(rewriter.builder_.get())
