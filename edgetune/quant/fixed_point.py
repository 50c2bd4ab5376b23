"""TFLite's fixed-point requantization: multiplier/shift parameters (numpy) and the kernels' math
(TE expressions), following tensorflow/lite/kernels/internal/common.h and quantization_util.cc.

A real scale r is stored as a 32-bit multiplier M in [2^30, 2^31) and a shift s with
r = M * 2^(s - 31). MultiplyByQuantizedMultiplier(x, M, s) is
RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x * 2^max(s, 0), M), max(-s, 0)):
a rounded high multiply followed by a round-half-away-from-zero right shift.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

# the windows +-2^W around 2^30 that ChannelRequantization.without_nudge tries, widest first:
# a wider window gives a smaller q, a narrower one fails fewer output thresholds
NUDGE_WINDOWS = (16, 12, 8, 4)


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


def multiply_by_quantized_multiplier_np(x: np.ndarray, multiplier: int, shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier on int32 values in NumPy, as TFLite computes it: x * 2^s
    in int32 (wrapping), SaturatingRoundingDoublingHighMul, RoundingDivideByPOT."""
    left, right = max(shift, 0), max(-shift, 0)
    a = wrap_int32(np.asarray(x, np.int64) << left).astype(np.int64)
    product = a * int(multiplier)
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))  # C's truncation
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def mean_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into (multiplier, shift) as TFLite's QuantizedMeanOrSum does."""
    n_shift = min(count.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << n_shift) // count), shift - n_shift


# `x >> 63` of an int64 is 0 or -1: the sign corrections of TFLite's rounding are
# `v - ((x >> SIGN_SHIFT) & c)` (search.features reads x once in that pattern)
SIGN_SHIFT = 63


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
    return (x + half - ((x >> _i64(SIGN_SHIFT)) & tirx.min(half, one))) >> e


def _wrapped(x: Any) -> Any:
    """An int64 expression wrapped to int32 (and widened again), as C's int32 product wraps."""
    return x.astype("int32").astype("int64")


def multiply_by_quantized_multiplier(
    x: Any, multiplier: Any, shift: Any, left_shifts: bool = True
) -> Any:
    """MultiplyByQuantizedMultiplier(x, M, s) on an int32 expression; returns int32.

    SaturatingRoundingDoublingHighMul(a, M) is (a*M + nudge) / 2^31 with C truncation, nudge =
    2^30 for a*M >= 0 and 1 - 2^30 otherwise, which equals floor((a*M + 2^30) / 2^31) for
    every sign: one 32x32->64 multiply, one add and one arithmetic shift.
    Its saturating case (a = M = INT32_MIN) cannot occur because M > 0. A left shift's x * 2^s
    wraps in int32 as TFLite's does (a MUL's product times a multiplier of 2^15 or more).
    `left_shifts=False`
    promises that no per-channel shift is positive (known when the rewrite picks the
    multipliers), which keeps the product a plain widening multiply.
    """
    from ..tvm_api import tirx

    if isinstance(shift, int | np.integer):
        left, right = max(int(shift), 0), max(-int(shift), 0)
        a = _wrapped(_i64(x) << tirx.const(left, "int64")) if left else _i64(x)
    else:
        zero = tirx.const(0, "int32")
        right = tirx.max(-shift, zero)
        a = _wrapped(_i64(x) << _i64(tirx.max(shift, zero))) if left_shifts else _i64(x)
    product = a * _i64(multiplier)
    high = (product + tirx.const(1 << 30, "int64")) >> tirx.const(31, "int64")
    return rounding_divide_by_pot(high, right).astype("int32")


@dataclass(frozen=True)
class FoldedRequantization:
    """The int64 constants of MultiplyByQuantizedMultiplier(acc + offset, M, s) + zp for a
    right shift (s <= 0, e = -s) known in Python (ADD's and MEAN's requantizations), as one
    32x32->64 multiply, two adds, a sign mask and one shift, with no per-element shift
    arithmetic:

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

    multiplier: int  # in [0, 2^31)
    rounding: int
    high: int
    negative: int
    shift: int  # 31 + e - input_shift

    @staticmethod
    def fold(
        multiplier: int, shift: int, zp: int, offset: int = 0, input_shift: int = 0
    ) -> FoldedRequantization | None:
        """The constants for MultiplyByQuantizedMultiplier((acc + offset) * 2^input_shift,
        multiplier, shift) + zp (None: a left shift, or an int64 bound fails)."""
        if shift > 0 or not 0 <= input_shift <= 30:
            return None
        u, e = 31 - input_shift, -shift  # u: the unit 2^31, scaled down
        high = (1 << (u - 1)) + offset * multiplier
        rounding = high + ((1 << (u - 1 + e)) if e else 0) + zp * (1 << (u + e))
        negative = (1 << u) if e else 0
        if -(1 << 31) * multiplier + min(rounding - negative, high) < -(1 << 63):
            return None
        if ((1 << 31) - 1) * multiplier + max(rounding, high) >= 1 << 63:
            return None
        return FoldedRequantization(multiplier, rounding, high, negative, u + e)

    def __call__(self, acc: Any) -> Any:
        """The formula on an int32 TE expression; returns int32. No Select, so AutoInline still
        inlines it into its consumer. Without a sign correction (e = 0) `acc` appears once:
        each copy multiplies the feature extraction's time on every candidate when these nest
        (a residual ADD's kernel: its output's, its inputs', the conv's requantizations)."""

        p = _i64(acc) * _i64(self.multiplier)
        value = p + _i64(self.rounding)
        if self.negative:
            sign = (p + _i64(self.high)) >> _i64(SIGN_SHIFT)
            value = value - (sign & _i64(self.negative))
        return (value >> _i64(self.shift)).astype("int32")


def scalar_requantization(
    multiplier: int, shift: int, zp: int = 0, offset: int = 0, input_shift: int = 0
) -> Any:
    """acc -> MultiplyByQuantizedMultiplier((acc + offset) * 2^input_shift, multiplier, shift)
    + zp on int32 TE expressions, with constants known in Python: folded (FoldedRequantization)
    where that applies, else the generic form."""
    folded = FoldedRequantization.fold(multiplier, shift, zp, offset, input_shift)
    if folded is not None:
        return folded
    scale = 1 << input_shift
    return lambda acc: (
        multiply_by_quantized_multiplier((acc + offset) * scale, multiplier, shift) + zp
    )


def wrap_int32(values: Any) -> np.ndarray:
    """Integers wrapped to int32 as TFLite's int32 additions wrap them."""
    return np.asarray(values, np.int64).astype(np.uint32).view(np.int32)


@dataclass(frozen=True)
class ChannelRequantization:
    """Per-channel int32 constants of TFLite's conv requantization,
    MultiplyByQuantizedMultiplier(acc + bias, M, -e) + zp with 2 <= e, in the form a vector
    unit runs fastest: one 32x32->64 multiply per output and nothing else in 64 bits that needs
    a per-channel constant:

        x = acc + bias                               int32, wrapping as TFLite's add
        y = x * M + 2^30;  y -= 2^31 where y < 0     int64
        result = ((y >> 32) + rounding) >> shift     int32: the high word, a 32-bit shift

    with rounding = 2^(e-2) + zp*2^(e-1) and shift = e - 1. SRDHM(x, M) is h = floor(y / 2^31)
    (before the correction), h < 0 exactly when y < 0, and RoundingDivideByPOT(h, e) + zp =
    floor((h + 2^(e-1) - [h < 0] + zp*2^e) / 2^e); nested floor divisions by powers of two
    merge, so the result is floor((y - 2^31 [y < 0] + 2^(30+e) + zp*2^(31+e)) / 2^(31+e)), and
    2^(31+e) = 2^32 * 2^(e-1) splits it into the high word, then a rounding shift in 32 bits.
    The high word is within +-2^30 (|x| <= 2^31, M < 2^31), so with |rounding| < 2^30 the
    32-bit sum cannot overflow.

    Against the folded int64 form this reads four int32 vectors where that read five int64
    ones: vectorized over output channels, x86 needs no shuffles to split the constants into
    even and odd lanes, and shifts 16 lanes at once in 32 bits (on AVX-512 about 15
    instructions per 16 outputs against 27; `lowering.even_odd`).
    """

    bias: np.ndarray  # int32
    multiplier: np.ndarray  # int32, M in [0, 2^31)
    rounding: np.ndarray  # int32
    shift: np.ndarray  # int32, e - 1

    @staticmethod
    def fit(multiplier: Any, shift: Any, zp: int, bias: Any) -> ChannelRequantization | None:
        """The constants for MultiplyByQuantizedMultiplier(acc + bias, multiplier, shift) + zp
        per channel (None: some channel's shift is above -2, or its rounding leaves +-2^30)."""
        mult = np.atleast_1d(np.asarray(multiplier, np.int64))
        e = -np.broadcast_to(np.asarray(shift, np.int64), mult.shape)
        if (e < 2).any() or (e > 31).any():
            return None
        rounding = (np.int64(1) << (e - 2)) + zp * (np.int64(1) << (e - 1))
        return ChannelRequantization._checked(
            wrap_int32(np.broadcast_to(bias, mult.shape)), mult, rounding, e - 1
        )

    def without_nudge(
        self, zp: int, lo: int, hi: int, bias_bound: Any
    ) -> ChannelRequantization | None:
        """Constants for `requantize_channel(..., nudge=False)` that give the same results once
        clamped to [lo, hi], for every acc with |acc + bias| <= bias_bound (per channel), or
        None (lo < zp, a shift beyond 22 bits, or some channel finds none).

        Under a clamp starting at zp only results above zp matter, where the function is
        floor((x*M + C) / 2^(31+e)) with C = 2^30 + rounding*2^32, x = acc + bias. Written as
        floor(((x + q)*M + R*2^32) / 2^(31+e)) the 2^30 needs no add of its own: q joins the
        bias, R the rounding, with q*M + R*2^32 within +-2^W of C. Both are nondecreasing in x,
        so they agree after the clamp exactly when they first reach each output k in (lo, hi]
        at the same x: checked for all ~255 k per channel, for the smallest q >= 0 or <= 0 with
        (q*M - 2^30) mod 2^32 within +-2^W (`first_in_range`), W in NUDGE_WINDOWS in turn."""
        mult = self.multiplier.astype(np.int64)
        e = self.shift.astype(np.int64) + 1
        if lo < zp or (e > 22).any():  # e <= 22: |k| * 2^(31+e) stays within int64
            return None
        k = np.arange(lo + 1, hi + 1, dtype=np.int64)
        reach = k[None, :] << (31 + e)[:, None]  # k * 2^(31+e)
        exact = (1 << 30) + self.rounding.astype(np.int64) * (1 << 32)
        first = -((exact[:, None] - reach) // mult[:, None])  # ceil((reach - C) / M)
        limit = (1 << 31) - 1 - np.asarray(np.broadcast_to(bias_bound, mult.shape), np.int64)
        q = np.zeros(mult.shape, np.int64)
        rounding = np.zeros(mult.shape, np.int64)
        todo = np.arange(mult.size)
        for width, sign in itertools.product(NUDGE_WINDOWS, (1, -1)):
            window = ((1 << 30) - (1 << width), (1 << 30) + (1 << width))
            m = mult[todo]
            found = [first_in_range(sign * int(a) % (1 << 32), 1 << 32, *window) for a in m]
            tries = np.array([-1 if f is None else f for f in found], np.int64) * sign
            ok = np.array([f is not None for f in found]) & (np.abs(tries) <= limit[todo])
            tries = np.where(ok, tries, 0)  # |q| < 2^31: q*M stays in int64
            r = (exact[todo] - tries * m + (1 << 31)) >> 32  # q*M + r*2^32 nearest C
            reached = -((r[:, None] * (1 << 32) - reach[todo]) // m[:, None]) - tries[:, None]
            ok &= (np.abs(r) < 1 << 30) & (reached == first[todo]).all(axis=1)
            q[todo[ok]], rounding[todo[ok]] = tries[ok], r[ok]
            todo = todo[~ok]
            if not todo.size:
                bias = wrap_int32(self.bias.astype(np.int64) + q)
                return ChannelRequantization(
                    bias, self.multiplier, rounding.astype(np.int32), self.shift
                )
        return None

    def plus(self, offset: Any) -> ChannelRequantization:
        """The constants for this requantization of acc + offset (int32 additions wrap)."""
        return ChannelRequantization(
            wrap_int32(self.bias.astype(np.int64) + offset), *self.arrays()[1:]
        )

    def output_plus(self, k: int) -> ChannelRequantization | None:
        """The constants for this requantization's result + k: k * 2^shift joins `rounding`
        (None: the rounding leaves +-2^30)."""
        shift = self.shift.astype(np.int64)
        rounding = self.rounding.astype(np.int64) + k * (np.int64(1) << shift)
        return self._checked(self.bias, self.multiplier, rounding, shift)

    @staticmethod
    def _checked(bias, mult, rounding, shift) -> ChannelRequantization | None:
        if (np.abs(rounding) >= 1 << 30).any():
            return None
        arrays = (bias, mult, rounding, shift)
        return ChannelRequantization(*(np.asarray(a).astype(np.int32) for a in arrays))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """bias, multiplier, rounding, shift: the order `requantize_channel` takes."""
        return self.bias, self.multiplier, self.rounding, self.shift


def first_in_range(a: int, m: int, lo: int, hi: int) -> int | None:
    """The smallest x >= 0 with lo <= (a*x) % m <= hi (0 <= lo <= hi < m), or None: Euclid's
    recursion on (a, m), a few microseconds for 32-bit numbers."""
    a %= m
    if lo == 0:
        return 0
    if a == 0:
        return None
    x = -(-lo // a)
    if a * x <= hi:
        return x
    # no multiple of a in [lo, hi]: a*x - m*y lands there for y with (m*y) % a in this range
    y = first_in_range(m % a, a, (-hi) % a, (-lo) % a)
    return None if y is None else -(-(lo + m * y) // a)


def requantize_channel(
    acc: Any,
    bias: Any,
    multiplier: Any,
    rounding: Any,
    shift: Any,
    negatives: bool = True,
    nudge: bool = True,
) -> Any:
    """ChannelRequantization's formula on an int32 expression (constants: int32 TE expressions
    or ints); returns int32. No Select, so AutoInline still inlines it into its consumer.

    `negatives=False` leaves out the correction of negative products: they make results of at
    most zp (RoundingDivideByPOT of h < 0 is <= 0 with or without it), which a clamp whose lower
    bound is at least zp (a ReLU's) saturates either way. `nudge=False` leaves out SRDHM's
    2^30 too, for constants from `ChannelRequantization.without_nudge` (which never need the
    correction).

    The bias is added in uint32: TFLite's int32 addition wraps, and a signed one would let LLVM
    widen it (adding the sign-extended operands in 64 bits), so the product, no longer of two
    sign-extended 32-bit values, would become a full 64-bit multiply (vpmullq, 3 uops) instead
    of vpmuldq.
    """
    from ..tvm_api import tirx

    def i32(v: Any) -> Any:
        return tirx.const(int(v), "int32") if isinstance(v, int | np.integer) else v

    x = (acc.astype("uint32") + i32(bias).astype("uint32")).astype("int32")
    y = _i64(x) * _i64(i32(multiplier))
    if nudge:
        y = y + _i64(1 << 30)
    if negatives:
        y = y - ((y >> _i64(SIGN_SHIFT)) & _i64(1 << 31))
    return ((y >> _i64(32)).astype("int32") + i32(rounding)) >> i32(shift)


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
