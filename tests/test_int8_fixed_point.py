"""The TE fixed-point math against a literal transcription of TFLite's reference functions."""

from __future__ import annotations

import numpy as np
from int8_support import tflite_mbqm
from lowering_support import build_keeping_lowered

from edgetune.quant.fixed_point import (
    FoldedRequantization,
    mean_multiplier,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    requantize_folded,
    scalar_requantization,
)


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
    expected = [tflite_mbqm(int(a), int(m), int(s)) for a, m, s in zip(x, mult, shift)]
    assert res.numpy().tolist() == expected


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _folded_cases() -> tuple[np.ndarray, ...]:
    """(acc, multiplier, shift, zp, offset): random plus edge values (acc at the int32 limits,
    exact negative and positive ties of the final rounding, e = 0, e = 31, M = 2^30, M = 0,
    M = 2^31 - 1, zero points at both ends)."""
    rng = np.random.default_rng(1)
    n = 6000
    mult = rng.integers(1 << 30, 1 << 31, n)
    shift = -rng.integers(0, 14, n)
    zp = rng.integers(-128, 128, n)
    offset = rng.integers(-(1 << 20), 1 << 20, n)
    acc = rng.integers(-(1 << 24), 1 << 24, n)
    rows = [
        (a, m, s, z, 0)
        for a in (-(1 << 31), (1 << 31) - 1, 0, -1, 1)
        for m, s, z in [
            (1 << 30, 0, 0),
            ((1 << 31) - 1, 0, -128),
            ((1 << 31) - 1, -5, 127),
            (0, 0, 5),
            (1 << 30, -31, 0),
            ((1 << 31) - 1, -31, 0),
            (1 << 30, -30, -1),
            (1 << 30, -1, -128),
        ]
    ]
    # M = 2^30 halves exactly: SRDHM(2h, 2^30) = h, so h = (2j + 1) 2^(e-1) is a tie of the
    # final rounding, for both signs and with the offset carrying part of it.
    for e in (1, 2, 7, 13):
        for j in (-3, -2, -1, 0, 1, 2):
            h = (2 * j + 1) << (e - 1)
            rows += [(2 * h, 1 << 30, -e, 0, 0), (2 * h - 6, 1 << 30, -e, -7, 6)]
    extra = np.array(rows, dtype=np.int64).T
    return tuple(np.concatenate([c, x]) for c, x in zip((acc, mult, shift, zp, offset), extra))


def test_folded_requantization_is_tflite_exact():
    """The folded formula (NumPy int64 and the compiled TE expression) equals TFLite's
    MultiplyByQuantizedMultiplier(acc + offset) + zp, wrapped to int32 like TFLite's adds."""
    import tvm
    from tvm import te

    acc, mult, shift, zp, offset = _folded_cases()
    n = acc.size
    expected = [
        _wrap32(tflite_mbqm(int(a + o), int(m), int(s)) + int(z))
        for a, m, s, z, o in zip(acc, mult, shift, zp, offset)
    ]
    folded = [
        FoldedRequantization.fold(m, s, int(z), o) for m, s, z, o in zip(mult, shift, zp, offset)
    ]
    assert all(f is not None for f in folded)
    m, rounding, high, negative, sh = (
        np.concatenate(c) for c in zip(*(f.arrays() for f in folded))
    )
    p = acc * m.astype(np.int64)
    numpy_result = ((p + rounding - (((p + high) >> 63) & negative)) >> sh).astype(np.int32)
    assert numpy_result.tolist() == expected

    names = ("acc", "m", "rounding", "high", "negative", "s")
    dtypes = ("int32", "int64", "int64", "int64", "int64", "int64")
    ins = [te.placeholder((n,), t, name) for name, t in zip(names, dtypes)]
    out = te.compute((n,), lambda i: requantize_folded(*(x[i] for x in ins)))
    func = te.create_prim_func([*ins, out]).with_attr("global_symbol", "main")
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    res = tvm.runtime.tensor(np.zeros(n, "int32"))
    args = [a.astype(t) for a, t in zip((acc, m, rounding, high, negative, sh), dtypes)]
    lib(*(tvm.runtime.tensor(a) for a in args), res)
    assert res.numpy().tolist() == expected


def _folded_requantization_lowered(pipeline: str) -> tuple[list[int], list[int], str]:
    """The folded cases through `requantize_folded` vectorized by 16 and built for the host
    board with `pipeline`: (results, TFLite's results, the lowered TIR as text)."""
    import tvm
    from tvm import te

    from edgetune.tvm_api import s_tir

    cases = _folded_cases()  # edge cases last: padded to whole vectors with the first ones
    cases = [np.concatenate([c, c[: -c.size % 16]]) for c in cases]
    n = cases[0].size
    expected = [
        _wrap32(tflite_mbqm(int(a + o), int(m), int(s)) + int(z)) for a, m, s, z, o in zip(*cases)
    ]
    folded = [FoldedRequantization.fold(m, s, int(z), o) for _, m, s, z, o in zip(*cases)]
    constants = [np.concatenate(c) for c in zip(*(f.arrays() for f in folded))]
    names = ("acc", "m", "rounding", "high", "negative", "s")
    dtypes = ("int32", "int64", "int64", "int64", "int64", "int64")
    ins = [te.placeholder((n,), t, name) for name, t in zip(names, dtypes)]
    out = te.compute((n,), lambda i: requantize_folded(*(x[i] for x in ins)), name="requantize")
    sch = s_tir.Schedule(te.create_prim_func([*ins, out]).with_attr("global_symbol", "main"))
    (loop,) = sch.get_loops(sch.get_sblock("requantize"))
    sch.vectorize(sch.split(loop, [None, 16])[1])

    lib, text = build_keeping_lowered(sch.mod, pipeline)
    res = tvm.runtime.tensor(np.zeros(n, "int32"))
    args = [a.astype(t) for a, t in zip((cases[0], *constants), dtypes)]
    lib(*(tvm.runtime.tensor(a) for a in args), res)
    return res.numpy().tolist(), expected, text


def test_even_odd_products_are_tflite_exact_on_the_host():
    """edgetune's TIR pipeline computes the vectorized requantization's int64 products on the
    even and odd int32 lanes in place (no widening or narrowing shuffles): same results as
    TFLite's reference and as TVM's default pipeline."""
    from edgetune.board import load_board
    from edgetune.lowering.even_odd import applies_to
    from edgetune.lowering.pipeline import tir_pipeline

    assert applies_to(load_board("host").target())  # an x86 host with AVX2 at least
    assert not applies_to(load_board("qemu-a53").target())  # NEON keeps smull
    results, expected, text = _folded_requantization_lowered(tir_pipeline())
    assert results == expected
    assert 'T.Cast("int64x16"' not in text and "T.reinterpret" in text
    default_results, _, default_text = _folded_requantization_lowered("default")
    assert default_results == expected
    assert 'T.Cast("int64x16"' in default_text


def test_folding_refuses_left_shifts_and_int64_overflow():
    assert FoldedRequantization.fold([1 << 30, 1 << 30], [0, 1], 0) is None  # a left shift
    assert FoldedRequantization.fold(1 << 30, -31, 127) is None  # 127 * 2^62 > int64
    folded = FoldedRequantization.fold(1 << 30, -31, 0)
    assert folded is not None and folded.plus(1 << 40) is None  # offset * M past 2^62
    assert folded.plus(-5).rounding.tolist() == [(1 << 30) + (1 << 61) - 5 * (1 << 30)]


def test_scalar_requantization_folded_or_generic_is_tflite_exact():
    """ADD and MEAN's requantizations with constants known in Python: folded for right shifts
    (also of inputs scaled by 2^20, as ADD's are), the generic form for a left shift or a zero
    point too large to fold at e = 31."""
    acc = np.array([0, 1, -1, 5, -5, 1 << 20, -(1 << 20), (1 << 27) - 3, -(1 << 27) + 7], np.int32)
    cases = [(1 << 30, -3, 4, -100, 0), ((1 << 31) - 1, 0, -128, 77, 0), (3 << 29, 2, 5, 9, 0)]
    cases += [(1 << 30, -31, 127, 0, 0), (1 << 30, -1, -7, -(1 << 20), 0)]
    # ADD's inputs: (x - zp) * 2^20, x int8; right shifts of 0 to 13 bits, one left shift
    cases += [(m, s, 0, -zp, 20) for m, s, zp in [(1 << 30, 0, -128), (0x5A5A5A5A, -3, 17)]]
    cases += [((1 << 31) - 1, -13, 127, -5, 20), (1 << 30, 1, 3, 0, 20)]
    small = np.arange(-128, 128, dtype=np.int32)
    for m, s, zp, offset, k in cases:
        x = small if k else acc
        res = _run_elementwise(scalar_requantization(m, s, zp, offset, k), x)
        expected = [_wrap32(tflite_mbqm((int(a) + offset) << k, m, s) + zp) for a in x]
        assert res.tolist() == expected, (m, s, zp, offset, k)


def _run_elementwise(f, x: np.ndarray) -> np.ndarray:
    """f applied to each element of int32 `x`, compiled by TVM for the host."""
    import tvm
    from tvm import te

    xs = te.placeholder(x.shape, "int32", "x")
    out = te.compute(x.shape, lambda i: f(xs[i]))
    func = te.create_prim_func([xs, out]).with_attr("global_symbol", "main")
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    res = tvm.runtime.tensor(np.zeros(x.shape, "int32"))
    lib(tvm.runtime.tensor(x), res)
    return res.numpy()
