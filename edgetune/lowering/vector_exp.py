"""float32 exp and sigmoid as arithmetic LLVM can vectorize, instead of a call to libm per value.

TVM lowers `tirx.exp` (and `tirx.sigmoid`, legalized to 1 / (1 + exp(-x))) to LLVM's `llvm.exp`
intrinsic, which LLVM scalarizes into one `expf` call per lane on x86 and AArch64: a vectorized
sigmoid over 65536 values takes ~100 us on two threads of the host board, where the same work
in vector registers takes a few. This pass, run before TVM's lowering (after scheduling, so task
hashes and records are unchanged), writes each float32 exp as Cephes' expf: n = round(x /
ln 2), r = x - n ln 2 (ln 2 in two parts, so r is exact), e^r by a degree-6 polynomial on |r| <=
ln 2 / 2, times 2^n built in the exponent bits. Relative error within 2 ulp of the correctly
rounded result on the finite range (tests/test_vector_exp.py); e^x overflows to inf above
88.72, is 0 below -103.97 (below -87.34 Cephes' scaling step is split in two so the subnormal
results stay close), and NaN stays NaN.
"""

from __future__ import annotations

from typing import Any

LOG2E = 1.44269504088896341
LN2_HI = 0.693359375  # ln 2 = LN2_HI + LN2_LO; n * LN2_HI is exact for |n| < 2^9
LN2_LO = -2.12194440e-4
# e^r - 1 - r = r^2 * P(r) on |r| <= ln 2 / 2 (Cephes expf)
POLY = (
    1.9875691500e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
)
OVERFLOW = 88.72283935546875  # above: inf
UNDERFLOW = -103.97207708  # below: 0


def _f(value: float) -> Any:
    from ..tvm_api import tirx

    return tirx.const(value, "float32")


def _pow2(n: Any) -> Any:
    """2^n as float32 for an int32 n in [-126, 127], from its exponent bits."""
    from ..tvm_api import tirx

    biased = (n + tirx.const(127, "int32")) << tirx.const(23, "int32")
    return tirx.reinterpret("float32", biased)


def exp_f32(x: Any) -> Any:
    """e^x on a scalar float32 expression, as vectorizable arithmetic (see the module doc)."""
    from ..tvm_api import tirx

    clamped = tirx.min(tirx.max(x, _f(UNDERFLOW)), _f(OVERFLOW))
    n = tirx.floor(clamped * _f(LOG2E) + _f(0.5))
    r = clamped - n * _f(LN2_HI) - n * _f(LN2_LO)
    poly = _f(POLY[0])
    for c in POLY[1:]:
        poly = poly * r + _f(c)
    er = poly * r * r + r + _f(1.0)
    # 2^n in two factors, each a normal float for n in [-150, 128]
    ni = n.astype("int32")
    half = ni >> tirx.const(1, "int32")
    scaled = er * _pow2(half) * _pow2(ni - half)
    # NaN by its bits: LLVM's fast-math flags fold a float `x != x` to false
    magnitude = tirx.reinterpret("int32", x) & tirx.const(0x7FFFFFFF, "int32")
    finite = tirx.Select(
        x > _f(OVERFLOW), _f(float("inf")), tirx.Select(x < _f(UNDERFLOW), _f(0.0), scaled)
    )
    return tirx.Select(magnitude > tirx.const(0x7F800000, "int32"), x, finite)


def _rewrite(call: Any) -> Any:
    """exp(x) and sigmoid(x) on scalar float32 replaced as above; other calls unchanged."""
    from ..tvm_api import tirx

    if str(call.ty) != "float32" or len(call.args) != 1:
        return call
    name = getattr(call.op, "name", "")
    if name == "tirx.exp":
        return exp_f32(call.args[0])
    if name == "tirx.sigmoid":
        x = call.args[0]
        return _f(1.0) / (_f(1.0) + exp_f32(tirx.const(0.0, "float32") - x))
    return call


def applies_to(target: Any) -> bool:
    """LLVM (CPU) targets: there llvm.exp becomes a libm call per lane."""
    return target is not None and str(target.kind.name) == "llvm"


def vector_exp() -> Any:
    """The PrimFunc pass: every CPU function's float32 exp and sigmoid calls rewritten."""
    from tvm import ir

    from .rewrite_pass import target_rewrite_pass

    return target_rewrite_pass("VectorExp", applies_to, ir.expr.Call, _rewrite, "post")
