"""x86 lowering of the requantizations' 64-bit products: even and odd lanes, no widening.

TFLite's fixed-point requantization (`quant.fixed_point`) multiplies each int32 value by a
31-bit multiplier in int64 and narrows the result back to int32. Vectorized over 16 lanes,
TIR says `int32x16(f(int64x16(x)))` and LLVM widens the int32 operands into two int64x8 halves
(vpmovzxdq, vextracti64x4, vpmovzxdq) and narrows the result back (2 x vpmovqd, vinserti64x4):
8 shuffle uops per 16 outputs on the one shuffle port, beside 2 vpmuldq.

x86's vpmuldq already multiplies the even int32 lanes of its operands into int64 lanes. So this
pass computes `f` twice on int64x8: on each int32 operand reinterpreted as int64x8 (its even
lanes in the low halves, sign-extended in place) and shifted right by 32 (the odd lanes), with
any int64 constants split into even and odd lanes, and interleaves the two results' low halves
(for `int32(f >> 32)`, LLVM picks the high halves instead of shifting). Every lane computes the
same int64 arithmetic as before, so the result is bit-identical. Per-channel constants are best
int32 (`ChannelRequantization`): an int64 vector needs a shuffle per half where an int32 one is
a reinterpretation. It runs at build time, after vectorization: task hashes and tuning records
are unchanged.
"""

from __future__ import annotations

from typing import Any

_LANE_WISE = ("Add", "Sub", "Mul", "LShift", "RShift", "BitwiseAnd", "BitwiseOr")


def _lanes(ty: Any, bits: int) -> int:
    """Fixed lane count of an `int<bits>` vector type, else 0."""
    text, prefix = str(ty), f"int{bits}x"
    count = text[len(prefix) :]
    return int(count) if text.startswith(prefix) and count.isdigit() else 0


def _half(expr: Any, odd: int) -> Any | None:
    """`expr` (int64xN) on its even (odd=0) or odd (odd=1) lanes as int64x(N/2); None if some
    node is not one this rewrite knows to be lane-wise."""
    from tvm import ir

    from ..tvm_api import tirx

    lanes = _lanes(expr.ty, 64)
    kind = type(expr).__name__
    if isinstance(expr, tirx.Cast) and _lanes(expr.value.ty, 32) == lanes:
        pairs = tirx.reinterpret(f"int64x{lanes // 2}", expr.value)
        by_32 = tirx.Broadcast(tirx.IntImm("int64", 32), lanes // 2)
        return pairs >> by_32 if odd else (pairs << by_32) >> by_32  # sign-extended in place
    if isinstance(expr, ir.expr.TensorLoad):
        return tirx.Shuffle([expr], list(range(odd, lanes, 2)))
    if isinstance(expr, tirx.Broadcast):
        return tirx.Broadcast(expr.value, lanes // 2)
    if kind in _LANE_WISE:
        a, b = _half(expr.a, odd), _half(expr.b, odd)
        return None if a is None or b is None else type(expr)(a, b)
    return None


def _narrowing(cast: Any) -> Any:
    """Rewrite `int32xN(int64xN expr)` into even and odd int64x(N/2) halves, interleaved."""
    from ..tvm_api import tirx

    lanes = _lanes(cast.ty, 32)
    if lanes < 4 or lanes % 2 or _lanes(cast.value.ty, 64) != lanes:
        return cast
    even, odd = _half(cast.value, 0), _half(cast.value, 1)
    if even is None or odd is None:
        return cast
    narrow = f"int32x{lanes}"
    interleave = [i for j in range(0, lanes, 2) for i in (j, lanes + j)]
    return tirx.Shuffle([tirx.reinterpret(narrow, even), tirx.reinterpret(narrow, odd)], interleave)


def applies_to(target: Any) -> bool:
    """x86 LLVM targets with AVX2 (vpmuldq on 256- and 512-bit registers)."""
    from tvm.target.codegen import target_has_features

    from .rewrite_pass import cpu_target

    if not cpu_target(target):
        return False
    if str(target.attrs.get("mtriple", "") or "x86_64").split("-")[0] not in ("x86_64", "i686"):
        return False
    try:
        return bool(target_has_features("avx2", target))
    except Exception:  # a CPU name LLVM does not know
        return False


def even_odd_products() -> Any:
    """The PrimFunc pass: every x86 function's narrowed 64-bit vector products, split."""
    from ..tvm_api import tirx
    from .rewrite_pass import target_rewrite_pass

    return target_rewrite_pass("EvenOddProducts", applies_to, tirx.Cast, _narrowing, "pre")
