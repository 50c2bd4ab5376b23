"""The TE fixed-point math against a literal transcription of TFLite's reference functions."""

from __future__ import annotations

import numpy as np
from int8_support import tflite_mbqm
from lowering_support import build_keeping_lowered

from edgetune.quant.fixed_point import (
    ChannelRequantization,
    FoldedRequantization,
    first_in_range,
    mean_multiplier,
    multiply_by_quantized_multiplier,
    quantize_multiplier,
    requantize_channel,
    saturate,
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


def _channel_cases() -> tuple[np.ndarray, ...]:
    """(acc, multiplier, shift, zp, bias): random plus edge values (acc at the int32 limits,
    acc + bias wrapping, exact negative and positive ties of the final rounding, e = 2 and 21,
    M = 2^30, M = 0, M = 2^31 - 1, zero points at both ends and shifted by 128)."""
    rng = np.random.default_rng(1)
    n = 6000
    mult = rng.integers(1 << 30, 1 << 31, n)
    shift = -rng.integers(2, 14, n)
    zp = rng.integers(-128, 256, n)
    bias = rng.integers(-(1 << 20), 1 << 20, n)
    acc = rng.integers(-(1 << 24), 1 << 24, n)
    rows = [
        (a, m, s, z, b)
        for a in (-(1 << 31), (1 << 31) - 1, 0, -1, 1)
        for m, s, z, b in [
            (1 << 30, -2, 0, 0),
            ((1 << 31) - 1, -2, -128, 0),
            ((1 << 31) - 1, -5, 127, 0),
            (0, -3, 5, 0),
            (1 << 30, -21, 0, 0),
            ((1 << 31) - 1, -21, 255, 0),
            (1 << 30, -20, -1, 0),
            (1 << 30, -2, -128, 7),  # acc + bias wraps past int32
            (1 << 30, -2, -128, -7),
        ]
    ]
    # M = 2^30 halves exactly: SRDHM(2h, 2^30) = h, so h = (2j + 1) 2^(e-1) is a tie of the
    # final rounding, for both signs and with the bias carrying part of it.
    for e in (2, 7, 13):
        for j in (-3, -2, -1, 0, 1, 2):
            h = (2 * j + 1) << (e - 1)
            rows += [(2 * h, 1 << 30, -e, 0, 0), (2 * h - 6, 1 << 30, -e, -7, 6)]
    extra = np.array(rows, dtype=np.int64).T
    return tuple(np.concatenate([c, x]) for c, x in zip((acc, mult, shift, zp, bias), extra))


def _channel_expected(acc, mult, shift, zp, bias) -> list[int]:
    """TFLite's MultiplyByQuantizedMultiplier(acc + bias) + zp, its int32 additions wrapping."""
    return [
        _wrap32(tflite_mbqm(_wrap32(int(a + b)), int(m), int(s)) + int(z))
        for a, m, s, z, b in zip(acc, mult, shift, zp, bias)
    ]


def _channel_constants(mult, shift, zp, bias) -> list[np.ndarray]:
    fitted = [
        ChannelRequantization.fit(m, s, int(z), b) for m, s, z, b in zip(mult, shift, zp, bias)
    ]
    assert all(f is not None for f in fitted)
    return [np.concatenate(c) for c in zip(*(f.arrays() for f in fitted))]


def test_channel_requantization_is_tflite_exact():
    """The int32-constant formula (NumPy and the compiled TE expression) equals TFLite's
    MultiplyByQuantizedMultiplier(acc + bias) + zp, wrapped to int32 like TFLite's adds; without
    the negative products' correction it still does wherever a clamp at zp saturates."""
    import tvm
    from tvm import te

    acc, mult, shift, zp, bias = cases = _channel_cases()
    expected = _channel_expected(*cases)
    constants = _channel_constants(mult, shift, zp, bias)
    b, m, rounding, sh = (c.astype(np.int64) for c in constants)
    y = (acc + b + (1 << 31)) % (1 << 32) - (1 << 31)  # the wrapping int32 add
    y = y * m + (1 << 30)
    y -= (y < 0) * (1 << 31)
    assert (((y >> 32) + rounding) >> sh).tolist() == expected

    n = acc.size
    ins = [te.placeholder((n,), "int32", name) for name in ("acc", "b", "m", "r", "s", "zp")]
    lib = {negatives: _compiled_channel(ins, negatives) for negatives in (True, False)}
    args = [tvm.runtime.tensor(a.astype(np.int32)) for a in (acc, *constants, zp)]
    for negatives, clamp_at_zp in ((True, False), (False, True)):
        res = tvm.runtime.tensor(np.zeros(n, "int32"))
        lib[negatives](*args, res)
        want = np.maximum(expected, zp) if clamp_at_zp else expected
        assert res.numpy().tolist() == list(want)


def _compiled_channel(ins: list, negatives: bool):
    """requantize_channel(acc, b, m, r, s) over vectors, compiled for the host; without the
    negatives' correction, clamped below at the zero point (the last input)."""
    import tvm
    from tvm import te

    def f(i):
        value = requantize_channel(*(x[i] for x in ins[:5]), negatives=negatives)
        return value if negatives else tvm.tirx.max(value, ins[5][i])

    out = te.compute(ins[0].shape, f)
    func = te.create_prim_func([*ins, out]).with_attr("global_symbol", "main")
    return tvm.compile(tvm.IRModule({"main": func}), target="llvm")


def _channel_requantization_lowered(pipeline: str) -> tuple[list[int], list[int], str]:
    """The channel cases through `requantize_channel` vectorized by 16 (and clamped to int8)
    and built for the host board with `pipeline`: (results, TFLite's results, the lowered TIR
    as text)."""
    import tvm
    from tvm import te

    from edgetune.tvm_api import s_tir

    cases = _channel_cases()  # edge cases last: padded to whole vectors with the first ones
    cases = [np.concatenate([c, c[: -c.size % 16]]) for c in cases]
    n = cases[0].size
    expected = np.clip(_channel_expected(*cases), -128, 127).tolist()
    constants = _channel_constants(*cases[1:])
    ins = [te.placeholder((n,), "int32", name) for name in ("acc", "b", "m", "r", "s")]
    out = te.compute(
        (n,),
        lambda i: saturate(requantize_channel(*(x[i] for x in ins)), -128, 127, "int8"),
        name="requantize",
    )
    sch = s_tir.Schedule(te.create_prim_func([*ins, out]).with_attr("global_symbol", "main"))
    (loop,) = sch.get_loops(sch.get_sblock("requantize"))
    sch.vectorize(sch.split(loop, [None, 16])[1])

    lib, text = build_keeping_lowered(sch.mod, pipeline)
    res = tvm.runtime.tensor(np.zeros(n, "int8"))
    lib(*(tvm.runtime.tensor(a.astype(np.int32)) for a in (cases[0], *constants)), res)
    return res.numpy().tolist(), expected, text


def test_even_odd_products_are_tflite_exact_on_the_host():
    """edgetune's TIR pipeline computes the vectorized requantization's int64 products on the
    even and odd int32 lanes in place (no widening or narrowing shuffles): same results as
    TFLite's reference and as TVM's default pipeline; the products are vpmuldq, not the
    3-uop vpmullq."""
    from edgetune.board import load_board
    from edgetune.lowering.even_odd import applies_to
    from edgetune.lowering.pipeline import tir_pipeline

    assert applies_to(load_board("host").target())  # an x86 host with AVX2 at least
    assert not applies_to(load_board("qemu-a53").target())  # NEON keeps smull
    results, expected, text = _channel_requantization_lowered(tir_pipeline())
    assert results == expected
    assert 'T.Cast("int64x16"' not in text and "T.reinterpret" in text
    default_results, _, default_text = _channel_requantization_lowered("default")
    assert default_results == expected
    assert 'T.Cast("int64x16"' in default_text


def test_channel_requantization_refuses_small_shifts_and_wraps_its_bias():
    assert ChannelRequantization.fit([1 << 30, 1 << 30], [-2, -1], 0, 0) is None  # e = 1
    assert ChannelRequantization.fit(1 << 30, 0, 0, 0) is None  # e = 0
    assert ChannelRequantization.fit(1 << 30, -24, 255, 0) is None  # rounding past 2^30
    fitted = ChannelRequantization.fit(1 << 30, -23, 127, (1 << 31) - 1)
    assert fitted is not None
    assert fitted.plus(1).bias.tolist() == [-(1 << 31)]  # TFLite's int32 add wraps
    assert fitted.rounding.tolist() == [(1 << 21) + 127 * (1 << 22)]
    assert fitted.output_plus(129) is None  # 256 * 2^22 + 2^21 >= 2^30
    assert ChannelRequantization.fit(1 << 30, -5, -3, 0).output_plus(128).rounding.tolist() == [
        (1 << 3) + 125 * (1 << 4)
    ]


def testfirst_in_range_is_the_smallest_solution():
    rng = np.random.default_rng(3)
    for _ in range(2000):
        m = int(rng.integers(2, 300))
        a, lo = int(rng.integers(0, m)), int(rng.integers(0, m))
        hi = int(rng.integers(lo, m))
        want = next((x for x in range(m) if lo <= a * x % m <= hi), None)
        assert first_in_range(a, m, lo, hi) == want, (a, m, lo, hi)


def _clamped_with_nudge(x, constants, lo, hi):
    """The clamped per-channel result of x = acc + bias, in NumPy (the formula
    test_channel_requantization_is_tflite_exact checks against TFLite)."""
    b, m, r, sh = (c.astype(np.int64) for c in constants)
    y = (x + b) * m + (1 << 30)
    y -= (y < 0) * (1 << 31)
    return np.clip(((y >> 32) + r) >> sh, lo, hi)


def test_constants_without_the_nudge_give_the_same_clamped_results():
    """Under a clamp starting at zp, `without_nudge` folds SRDHM's 2^30 into the bias and
    rounding: every accumulator within the bound (each one around the thresholds, random ones
    up to the bound) gives the same clamped result, in NumPy and compiled; refused below zp or
    without room for the bias offset."""
    rng = np.random.default_rng(4)
    channels = 48
    mult, shift = quantize_multiplier(np.exp(rng.uniform(np.log(1e-4), np.log(0.24), channels)))
    bias = rng.integers(-5000, 5000, channels)
    bound = np.abs(bias) + (1 << 24)
    for zp, lo, hi in ((-128, -128, 127), (-20, -20, 127), (-128, -128, 60), (7, 9, 120)):
        fitted = ChannelRequantization.fit(mult, shift, zp, bias)
        free = fitted.without_nudge(zp, lo, hi, bound)
        assert free is not None and not np.array_equal(free.bias, fitted.bias)
        x = np.concatenate(
            [np.arange(-(1 << 17), 1 << 17), rng.integers(-(1 << 24), 1 << 24, 1 << 16)]
        )[:, None]
        want = _clamped_with_nudge(x, fitted.arrays(), lo, hi)
        b, m, r, sh = (c.astype(np.int64) for c in free.arrays())
        got = np.clip(((((x + b) * m) >> 32) + r) >> sh, lo, hi)
        assert np.array_equal(got, want), (zp, lo, hi)
        assert len(np.unique(want)) == hi - lo + 1  # every output value reached
    assert fitted.without_nudge(zp, zp - 1, 127, bound) is None  # below zp: negatives matter
    assert fitted.without_nudge(zp, lo, hi, (1 << 31) - 2) is None  # no room for x + q
    assert ChannelRequantization.fit(1 << 30, -23, 0, 0).without_nudge(0, 0, 127, 0) is None

    import tvm
    from tvm import te

    n = 1 << 14
    acc = rng.integers(-(1 << 16), 1 << 16, n).astype(np.int32)
    channel = rng.integers(0, channels, n)
    free = ChannelRequantization.fit(mult, shift, -128, bias).without_nudge(-128, -128, 127, bound)
    ins = [te.placeholder((n,), "int32", name) for name in ("acc", "b", "m", "r", "s")]
    out = te.compute(
        (n,),
        lambda i: saturate(
            requantize_channel(*(x[i] for x in ins), negatives=False, nudge=False),
            -128,
            127,
            "int8",
        ),
    )
    func = te.create_prim_func([*ins, out]).with_attr("global_symbol", "main")
    lib = tvm.compile(tvm.IRModule({"main": func}), target="llvm")
    res = tvm.runtime.tensor(np.zeros(n, "int8"))
    per_element = [c[channel] for c in free.arrays()]
    lib(*(tvm.runtime.tensor(a.astype(np.int32)) for a in (acc, *per_element)), res)
    fitted = ChannelRequantization.fit(mult, shift, -128, bias)
    want = _clamped_with_nudge(
        acc.astype(np.int64), [c[channel] for c in fitted.arrays()], -128, 127
    )
    assert res.numpy().tolist() == want.tolist()


def test_folding_refuses_left_shifts_and_int64_overflow():
    assert FoldedRequantization.fold(1 << 30, 1, 0) is None  # a left shift
    assert FoldedRequantization.fold(1 << 30, -31, 127) is None  # 127 * 2^62 > int64
    assert FoldedRequantization.fold(1 << 30, -31, 0, offset=1 << 40) is None  # offset * M
    folded = FoldedRequantization.fold(1 << 30, -31, 0, offset=-5)
    assert folded.rounding == (1 << 30) + (1 << 61) - 5 * (1 << 30)


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


def test_a_folded_requantization_without_a_sign_correction_reads_its_input_once():
    """e = 0 needs no correction of negative products: the input appears once, not twice (the
    copies multiply when requantizations nest, and MetaSchedule's feature extraction walks each:
    a residual ADD's kernel 43-87 ms a candidate)."""
    from edgetune.tvm_api import tirx

    acc = tirx.Var("acc", "int32")
    for shift, reads in [(0, 1), (-3, 2)]:
        folded = FoldedRequantization.fold(1 << 30, shift, 5)
        assert (folded.negative == 0) == (shift == 0)
        assert str(folded(acc)).count("acc") == reads, folded(acc)
