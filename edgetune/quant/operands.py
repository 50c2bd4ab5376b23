"""Target-specific operands of the integer convolutions.

x86 VNNI (vpdpbusd) multiplies unsigned by signed bytes. On such targets the activations of
every int8 x int8 convolution (groups = 1, FULLY_CONNECTED included) are shifted to uint8,
u = x + 128, and the shift's contribution is removed from the int32 accumulator:
conv(u, w) - 128 * sum(w) == conv(x, w), exactly. The pad and the shift fuse into one
elementwise kernel; the correction joins the requantization epilogue.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from tvm import relax

SHIFT = 128


def unsigned_activations(target: Any) -> bool:
    """Whether int8 convolutions on `target` should read uint8 activations (x86 VNNI)."""
    from tvm.target.codegen import target_has_features

    if str(target.kind.name) != "llvm" or str(target.attrs.get("mtriple", "")).startswith("aarch"):
        return False
    try:
        return bool(target_has_features("avx512vnni", target))
    except Exception:  # a CPU name LLVM does not know
        return False


def _is_int8_conv(call: Any) -> bool:
    from tvm.ir.expr import Constant

    return (
        isinstance(call, relax.Call)
        and getattr(call.op, "name", None) == "relax.nn.conv2d"
        and int(call.attrs.groups) == 1
        and str(call.attrs.out_dtype) == "int32"
        and str(call.args[0].ty.dtype) == "int8"
        and isinstance(call.args[1], Constant)
        and str(call.args[1].ty.dtype) == "int8"
    )


@relax.expr_functor.mutator
class _UnsignedActivations(relax.PyExprMutator):
    def visit_call_(self, call: Any) -> Any:
        call = self.visit_expr_post_order(call)
        if not _is_int8_conv(call):
            return call
        bb = self.builder_
        data, weight = call.args
        wide = bb.emit(relax.op.astype(data, "int32"))
        shifted = bb.emit(relax.op.add(wide, relax.const(SHIFT, "int32")))
        unsigned = bb.emit(relax.op.astype(shifted, "uint8"))
        acc = bb.emit(relax.Call(call.op, [unsigned, weight], call.attrs))
        w = weight.value.numpy().astype(np.int64)
        layout = str(call.attrs.kernel_layout)
        out_axis = layout.index("O")
        reduce_axes = tuple(i for i in range(w.ndim) if i != out_axis)
        correction = (SHIFT * w.sum(axis=reduce_axes)).astype(np.int32)
        return relax.op.subtract(acc, relax.const(correction, "int32"))


def prepare_for_target(mod: Any, target: Any) -> Any:
    """Adapt the integer convolutions of `mod` to `target`'s dot-product instruction."""
    if not unsigned_activations(target):
        return mod
    rewriter = _UnsignedActivations(mod)
    for gv, func in mod.functions_items():
        if isinstance(func, relax.Function):
            rewriter.builder_.update_func(gv, rewriter.visit_expr(func))
    return rewriter.builder_.get()
