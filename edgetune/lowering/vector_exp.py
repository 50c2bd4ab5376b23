"""float32 exp, sigmoid and tanh as arithmetic LLVM can vectorize, not a libm call per value.

TVM lowers `tirx.exp` (and `tirx.sigmoid`, `tirx.tanh`, legalized through exp) to LLVM's
`llvm.exp` intrinsic, which LLVM scalarizes into one `expf` call per lane on x86 and AArch64: a
vectorized sigmoid over 65536 values takes ~110 us on two threads of the host board, ~20 us in
vector registers. This pass, run before TVM's lowering (after scheduling, so task hashes and
records are unchanged), writes each float32 exp as Cephes' expf: n = round(x / ln 2), r = x -
n ln 2 (ln 2 in two parts, so r is exact), e^r by a degree-6 polynomial on |r| <= ln 2 / 2,
times 2^n built in the exponent bits (in two factors, so results down to the subnormals stay
close). Within 1 ulp of the correctly rounded result wherever that is a normal float (sigmoid
and tanh within 3; tests/test_vector_exp.py); e^x is inf above 88.72, 0 below -103.97, and NaN
stays NaN.
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
TANH_SMALL = 0.34657359  # ln 2 / 2


def _f(value: float) -> Any:
    from ..tvm_api import tirx

    return tirx.const(value, "float32")


def _pow2(n: Any) -> Any:
    """2^n as float32 for an int32 n in [-126, 127], from its exponent bits."""
    from ..tvm_api import tirx

    biased = (n + tirx.const(127, "int32")) << tirx.const(23, "int32")
    return tirx.reinterpret("float32", biased)


def _expm1_reduced(r: Any) -> Any:
    """e^r - 1 for |r| <= ln 2 / 2, without cancellation: r + r^2 P(r)."""
    poly = _f(POLY[0])
    for c in POLY[1:]:
        poly = poly * r + _f(c)
    return poly * r * r + r


def exp_f32(x: Any) -> Any:
    """e^x on a scalar float32 expression, as vectorizable arithmetic (see the module doc)."""
    from ..tvm_api import tirx

    clamped = tirx.min(tirx.max(x, _f(UNDERFLOW)), _f(OVERFLOW))
    n = tirx.floor(clamped * _f(LOG2E) + _f(0.5))
    er = _expm1_reduced(clamped - n * _f(LN2_HI) - n * _f(LN2_LO)) + _f(1.0)
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
    """exp, sigmoid and tanh on a scalar float32 replaced as above; other calls unchanged."""
    if str(call.ty) != "float32" or len(call.args) != 1:
        return call
    name = getattr(call.op, "name", "")
    if name == "tirx.exp":
        return exp_f32(call.args[0])
    if name == "tirx.sigmoid":
        return _f(1.0) / (_f(1.0) + exp_f32(_f(0.0) - call.args[0]))
    if name == "tirx.tanh":
        return tanh_f32(call.args[0])
    return call


def tanh_f32(x: Any) -> Any:
    """tanh(x) = -m / (2 + m) with m = e^(-2|x|) - 1, the sign of x: m by the polynomial alone
    while -2|x| is inside its range (no cancellation near 0), else from exp_f32."""
    from ..tvm_api import tirx

    r = _f(-2.0) * tirx.abs(x)
    m = tirx.Select(r > _f(-TANH_SMALL), _expm1_reduced(r), exp_f32(r) - _f(1.0))
    t = (_f(0.0) - m) / (_f(2.0) + m)
    return tirx.Select(x < _f(0.0), _f(0.0) - t, t)


def vector_exp() -> Any:
    """The PrimFunc pass: every CPU function's float32 exp, sigmoid and tanh calls rewritten."""
    from tvm import ir

    from .rewrite_pass import cpu_target, target_rewrite_pass

    return target_rewrite_pass("VectorExp", cpu_target, ir.expr.Call, _rewrite, "post")
