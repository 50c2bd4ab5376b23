"""TFLite's fixed-point requantization: multiplier/shift parameters (numpy) and the kernels' math
(TE expressions), following tensorflow/lite/kernels/internal/common.h and quantization_util.cc.

A real scale r is stored as a 32-bit multiplier M in [2^30, 2^31) and a shift s with
r = M * 2^(s - 31). MultiplyByQuantizedMultiplier(x, M, s) is
RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(s, 0), M), max(-s, 0)):
a rounded high multiply followed by a round-half-away-from-zero right shift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def quantize_multiplier(real: Any) -> tuple[np.ndarray, np.ndarray]:
    """QuantizeMultiplier for each element of `real` (float64): (multiplier int32, shift int32)."""
    real = np.atleast_1d(np.asarray(real, dtype=np.float64))
    mantissa, exponent = np.frexp(real)
    # TfLiteRound is std::round (half away from zero); mantissa >= 0 here.
    q = np.floor(mantissa * float(1 << 31) + 0.5).astype(np.int64)
    exponent = exponent.astype(np.int64)
    full = q == (1 << 31)
    q[full] //= 2
    exponent[full] += 1
    tiny = exponent < -31
    q[tiny] = 0
    exponent[tiny] = 0
    return q.astype(np.int32), exponent.astype(np.int32)


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into (multiplier, shift) as TFLite's QuantizedMeanOrSum does."""
    n_shift = min(count.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << n_shift) // count), shift - n_shift


def _i64(x: Any) -> Any:
    from ..tvm_api import tirx

    if isinstance(x, int | np.integer):
        return tirx.const(int(x), "int64")
    return x.astype("int64")


def rounding_divide_by_pot(x: Any, exponent: Any) -> Any:
    """RoundingDivideByPOT(x, e) on int64: x / 2^e rounded half away from zero.

    TFLite adds one when the remainder exceeds (mask >> 1) + (x < 0); for e > 0 that equals
    floor((x + 2^(e-1) - (x < 0)) / 2^e), written with arithmetic shifts and no branch or
    select: x >> 63 is -1 for negative x, and `& min(half, 1)` makes the correction 0 for e = 0.
    A Select would stop MetaSchedule's AutoInline from inlining the requantization into its
    consumer. `x` appears twice, not three times as in TFLite's form: fused kernels nest these
    (ADD: three deep), and every copy multiplies MetaSchedule's feature-extraction time (the
    three-copy int32 form made one task's search take minutes per iteration).
    """
    from ..tvm_api import tirx

    one = tirx.const(1, "int64")
    e = _i64(exponent)
    half = (one << e) >> one
    return (x + half - ((x >> tirx.const(63, "int64")) & tirx.min(half, one))) >> e


def multiply_by_quantized_multiplier(
    x: Any, multiplier: Any, shift: Any, left_shifts: bool = True
) -> Any:
    """MultiplyByQuantizedMultiplier(x, M, s) on an int32 expression; returns int32.

    SaturatingRoundingDoublingHighMul(a, M) is (a*M + nudge) / 2^31 with C truncation, nudge =
    2^30 for a*M >= 0 and 1 - 2^30 otherwise, which equals floor((a*M + 2^30) / 2^31) for
    every sign: one 32x32->64 multiply, one add and one arithmetic shift.
    Its saturating case (a = M = INT32_MIN) cannot occur because M > 0. `left_shifts=False`
    promises that no per-channel shift is positive (known when the rewrite picks the
    multipliers), which keeps the product a plain widening multiply.
    """
    from ..tvm_api import tirx

    if isinstance(shift, int | np.integer):
        left, right = max(int(shift), 0), max(-int(shift), 0)
        a = _i64(x) << tirx.const(left, "int64") if left else _i64(x)
    else:
        zero = tirx.const(0, "int32")
        right = tirx.max(-shift, zero)
        a = _i64(x) << _i64(tirx.max(shift, zero)) if left_shifts else _i64(x)
    product = a * _i64(multiplier)
    high = (product + tirx.const(1 << 30, "int64")) >> tirx.const(31, "int64")
    return rounding_divide_by_pot(high, right).astype("int32")


@dataclass(frozen=True)
class FoldedRequantization:
    """Per-channel int64 constants of MultiplyByQuantizedMultiplier(acc + offset, M, s) + zp
    for right shifts only (s <= 0, e = -s), as one 32x32->64 multiply, two adds, a sign mask
    and one shift, with no per-element shift arithmetic:

        p = acc * M
        result = ((p + rounding) - (((p + high) >> 63) & negative)) >> shift

    high = offset*M + 2^30: SRDHM(acc + offset, M) = floor((p + high) / 2^31), negative
    exactly when p + high < 0. RoundingDivideByPOT(h, e) = floor((h + 2^(e-1) - [h < 0]) / 2^e)
    for e > 0, nested floor divisions by powers of two merge, and + zp moves inside the floor:
    rounding = high + 2^(30+e) (e > 0) + zp*2^(31+e), negative = 2^31 if e > 0 else 0,
    shift = 31 + e. The int32 result equals TFLite's (acc + offset requantized, plus zp, its
    int32 additions wrapping) whenever acc + offset fits int32, as TFLite adds them in int32.
    Constants for which some int32 acc would overflow int64 (e.g. zp*2^(31+e) for e near 31)
    are refused: the caller keeps the generic multiply_by_quantized_multiplier.

    `input_shift` k requantizes (acc + offset) * 2^k (TFLite's ADD scales its inputs by 2^20):
    every constant above but the multiplier is a multiple of 2^k, so dividing them by 2^k (2^31
    becomes 2^(31-k)) and shifting k bits less gives the same result from p = acc * M.
    """

    multiplier: np.ndarray  # int64, in [0, 2^31)
    rounding: np.ndarray  # int64
    high: np.ndarray  # int64
    negative: np.ndarray  # int64
    shift: np.ndarray  # int64, 31 + e

    @staticmethod
    def fold(
        multiplier: Any, shift: Any, zp: int, offset: Any = 0, input_shift: int = 0
    ) -> FoldedRequantization | None:
        """The constants for MultiplyByQuantizedMultiplier((acc + offset) * 2^input_shift,
        multiplier, shift) + zp (None: a channel shifts left, or an int64 bound fails)."""
        mult = np.atleast_1d(np.asarray(multiplier, np.int64))
        shifts = np.broadcast_to(np.asarray(shift, np.int64), mult.shape)
        if (shifts > 0).any() or not 0 <= input_shift <= 30:
            return None
        u = 31 - input_shift  # the unit 2^31, scaled down
        e = [-int(s) for s in shifts]
        high = [1 << (u - 1)] * len(e)
        rounding = [
            h + ((1 << (u - 1 + x)) if x else 0) + zp * (1 << (u + x)) for h, x in zip(high, e)
        ]
        negative = [(1 << u) if x else 0 for x in e]
        shifts_u = [u + x for x in e]
        return FoldedRequantization._checked(mult, rounding, high, negative, shifts_u, offset)

    def plus(self, offset: Any) -> FoldedRequantization | None:
        """The constants for this requantization of acc + offset (None: an int64 bound fails)."""
        return self._checked(*self.arrays(), offset)

    def output_plus(self, k: int) -> FoldedRequantization | None:
        """The constants for this requantization's result + k: k * 2^shift joins `rounding`
        (None: an int64 bound fails)."""
        rounding = [int(r) + (k << int(s)) for r, s in zip(self.rounding, self.shift)]
        return self._checked(self.multiplier, rounding, self.high, self.negative, self.shift, 0)

    @staticmethod
    def _checked(mult, rounding, high, negative, shift, offset) -> FoldedRequantization | None:
        """rounding, high += offset*M (exact integers); None unless every int32 acc keeps
        p + rounding - negative, p + rounding and p + high inside int64."""
        offsets = np.broadcast_to(np.asarray(offset, np.int64), np.shape(mult))
        ms = [int(m) for m in mult]
        rs = [int(r) + int(o) * m for r, o, m in zip(rounding, offsets, ms)]
        hs = [int(h) + int(o) * m for h, o, m in zip(high, offsets, ms)]
        for m, r, h, n in zip(ms, rs, hs, negative):
            if -(1 << 31) * m + min(r - int(n), h) < -(1 << 63):
                return None
            if ((1 << 31) - 1) * m + max(r, h) >= 1 << 63:
                return None
        return FoldedRequantization(
            *(np.asarray(a, np.int64) for a in (mult, rs, hs, negative, shift))
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """multiplier, rounding, high, negative, shift: the order `requantize_folded` takes."""
        return self.multiplier, self.rounding, self.high, self.negative, self.shift


def requantize_folded(
    acc: Any, multiplier: Any, rounding: Any, high: Any, negative: Any, shift: Any
) -> Any:
    """FoldedRequantization's formula on an int32 expression (constants: int64 TE expressions
    or ints); returns int32. No Select, so AutoInline still inlines it into its consumer.

    A per-channel multiplier is written sign_extend_inreg(M, 32) = (M << 32) >> 32, a no-op on
    its values: LLVM hoists the multiplier's load out of a loop over pixels, and its instruction
    selection (one basic block at a time) then no longer knows that it fits 32 bits and emits a
    full 64-bit multiply (vpmullq, 3 uops); the shift pair is the form LLVM's CodeGenPrepare
    sinks back next to the multiply (X86 isProfitableToSinkOperands), so it stays vpmuldq.
    """
    from ..tvm_api import tirx

    c32, c63 = tirx.const(32, "int64"), tirx.const(63, "int64")
    m = _i64(multiplier)
    if not isinstance(multiplier, int | np.integer):
        m = (m << c32) >> c32
    p = _i64(acc) * m
    sign = (p + _i64(high)) >> c63
    return ((p + _i64(rounding) - (sign & _i64(negative))) >> _i64(shift)).astype("int32")


def scalar_requantization(
    multiplier: int, shift: int, zp: int = 0, offset: int = 0, input_shift: int = 0
) -> Any:
    """acc -> MultiplyByQuantizedMultiplier((acc + offset) * 2^input_shift, multiplier, shift)
    + zp on int32 TE expressions, with constants known in Python: folded (FoldedRequantization)
    where that applies, else the generic form."""
    folded = FoldedRequantization.fold(multiplier, shift, zp, offset, input_shift)
    if folded is None:
        scale = 1 << input_shift
        return lambda acc: (
            multiply_by_quantized_multiplier((acc + offset) * scale, multiplier, shift) + zp
        )
    consts = [int(a[0]) for a in folded.arrays()]
    return lambda acc: requantize_folded(acc, *consts)


def saturate(x: Any, lo: int, hi: int, dtype: str) -> Any:
    """Clamp an integer expression to [lo, hi] and cast it to `dtype`."""
    from ..tvm_api import tirx

    ty = str(x.ty)
    return tirx.min(tirx.max(x, tirx.const(lo, ty)), tirx.const(hi, ty)).astype(dtype)


def round_half_away_divide(x: Any, n: Any) -> Any:
    """(x + n/2) / n for x > 0, (x - n/2) / n otherwise, C truncation (TFLite AveragePool)."""
    from ..tvm_api import tirx

    half = tirx.truncdiv(n, 2)
    return tirx.Select(x > 0, tirx.truncdiv(x + half, n), tirx.truncdiv(x - half, n))
