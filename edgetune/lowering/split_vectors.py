"""Vectorized loops of a width that is not a power of two, split into power-of-two vectors.

A tuned schedule vectorizes its innermost spatial loops whatever their extent: 24 output channels
(MobileNetV2's 56x56 project convs) become `float32x24` in TIR and `<24 x float>` in LLVM, which
the x86 backend legalizes lane by lane (`vinsertps`, `vextractps`, stack spills). The tuned
56x56 96 -> 24 conv ran 1.4x slower than the same loops as 3 x `float32x8`, and register tiles of
8-14 pixels x 24 channels 8-14x slower (docs/performance.md, session 20). This pass rewrites
`for i in vectorized(n)` with n = q * p, p the largest power of two dividing n (p >= MIN_LANES,
p < n) into `for io in unroll(q): for ii in vectorized(p)` with i = io * p + ii. The loop nest
computes the same values in the same order per lane; it runs at build time, before TVM's
VectorizeLoop, so task hashes and tuning records are unchanged.
"""

from __future__ import annotations

from typing import Any

MIN_LANES = 4  # narrower pieces would no longer be vectors worth the name


def _split(loop: Any) -> Any:
    """`loop` split as above, or unchanged (not vectorized, not a constant extent, a step other
    than 1, a power of two, or pieces narrower than MIN_LANES)."""
    import tvm_ffi

    from ..tvm_api import tirx

    if loop.kind != tirx.ForKind.VECTORIZED or not isinstance(loop.extent, tirx.IntImm):
        return loop
    if loop.step is not None and not (isinstance(loop.step, tirx.IntImm) and loop.step.value == 1):
        return loop
    n = int(loop.extent.value)
    p = n & -n
    if p == n or p < MIN_LANES:
        return loop
    var, ty = loop.loop_var, str(loop.extent.ty)
    outer, inner = tirx.Var(f"{var.name}_o", ty), tirx.Var(f"{var.name}_i", ty)
    index = loop.min + outer * tirx.const(p, ty) + inner
    body = tvm_ffi.structural_map(
        loop.body, ((tirx.Var, lambda v: index if v.same_as(var) else v),), order="pre"
    )
    zero = tirx.const(0, ty)
    vectors = tirx.For(
        inner, zero, tirx.const(p, ty), tirx.ForKind.VECTORIZED, body, annotations=loop.annotations
    )
    return tirx.For(outer, zero, tirx.const(n // p, ty), tirx.ForKind.UNROLLED, vectors)


def applies_to(target: Any) -> bool:
    """LLVM (CPU) targets."""
    return target is not None and str(target.kind.name) == "llvm"


def split_vectors() -> Any:
    """The PrimFunc pass: every CPU function's vectorized loops split as above."""
    from ..tvm_api import tirx
    from .rewrite_pass import target_rewrite_pass

    return target_rewrite_pass("SplitVectors", applies_to, tirx.For, _split, "post")
