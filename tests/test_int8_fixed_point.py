"""The TE fixed-point math against a literal transcription of TFLite's reference functions."""

from __future__ import annotations

import numpy as np

from edgetune.quant.fixed_point import (
    mean_multiplier,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
)


def _srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul, as in gemmlowp/TFLite (C truncating division)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = ab + nudge
    return abs(q) // (1 << 31) * (1 if q >= 0 else -1)


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def _mbqm(x: int, m: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm(x * (1 << left), m), right)


def test_quantize_multiplier_matches_tflite():
    mult, shift = quantize_multiplier([0.5, 1.0, 0.75, 2.0**-40, 0.0, 1 - 2.0**-40])
    assert mult.tolist() == [1 << 30, 1 << 30, 3 << 29, 0, 0, 1 << 30]
    assert shift.tolist() == [0, 1, 0, 0, 0, 1]  # 1 - 2^-40 rounds up to 2^31, renormalized
    # 1/49 folded into a multiplier as QuantizedMeanOrSum does (shift by floor(log2 49) = 5)
    m, s = mean_multiplier(1 << 30, 0, 49)
    assert (m, s) == ((1 << 35) // 49, -5)


def test_multiply_by_quantized_multiplier_is_tflite_exact():
    import tvm
    from tvm import te

    rng = np.random.default_rng(0)
    n = 4096
    reals = np.exp(rng.uniform(np.log(1e-5), np.log(3.0), n))
    mult, shift = quantize_multiplier(reals)
    limit = np.minimum(np.int64(1 << 31) >> np.maximum(shift, 0).astype(np.int64), 1 << 24)
    x = (rng.uniform(-1, 1, n) * limit).astype(np.int64)
    # exact ties of the final rounding, and extremes
    x[:8] = [0, 1, -1, 2, -2, 3, -3, (1 << 20) - 1]
    x = x.astype(np.int32)

    xs = te.placeholder((n,), "int32", "x")
    ms = te.placeholder((n,), "int32", "m")
    ss = te.placeholder((n,), "int32", "s")
    out = te.compute(
        (n,), lambda i: multiply_by_quantized_multiplier(xs[i], ms[i], ss[i]).astype("int32")
    )
    func = te.create_prim_func([xs, ms, ss, out]).with_attr("global_symbol", "main")
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    res = tvm.runtime.tensor(np.zeros(n, "int32"))
    lib(tvm.runtime.tensor(x), tvm.runtime.tensor(mult), tvm.runtime.tensor(shift), res)
    expected = [_mbqm(int(a), int(m), int(s)) for a, m, s in zip(x, mult, shift)]
    assert res.numpy().tolist() == expected
