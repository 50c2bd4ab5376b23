"""8-bit ops of one input as tables of their 256 results, computed as TFLite's kernels do.

An int8 or uint8 input takes 256 values, so any quantized op of one input is a table lookup
(`kernels.table_lookup`): its formula is evaluated here once, in NumPy, with TFLite's own
arithmetic, and the kernel reads its input once whatever the formula costs. Each table is
indexed by x - min of the input type and already clamped to the output's activation range.

- LEAKY_RELU: x - zx requantized by one of two multipliers by its sign (activations.cc).
- LOGISTIC, TANH: TFLite's lookup table, filled in float32 (dequantize, the function,
  round(y / s_out) + z_out); its reference kernels use the same table.
- HARD_SWISH: reference_ops::HardSwish's 16-bit fixed point (a "relu-ish" multiplier in [0, 1]
  times the input on the output scale).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .fixed_point import multiply_by_quantized_multiplier_np, quantize_multiplier

if TYPE_CHECKING:
    from .kernels import Clamp
    from .rewrite import QParams

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def _inputs(in_dtype: str, qx: QParams) -> np.ndarray:
    """x - zx for every value of the input type, lowest first (int64)."""
    info = np.iinfo(in_dtype)
    return np.arange(info.min, info.max + 1, dtype=np.int64) - qx.zp


def _scale(q: QParams) -> np.float32:
    return np.float32(q.scale.reshape(-1)[0])


def _clamped(values: np.ndarray, clamp: Clamp) -> np.ndarray:
    lo, hi, dtype = clamp
    return np.clip(values, lo, hi).astype(dtype)


def leaky_relu(in_dtype: str, qx: QParams, qo: QParams, alpha: float, clamp: Clamp) -> np.ndarray:
    """LEAKY_RELU: x - zx requantized by s_x / s_o where it is >= 0, else by alpha * s_x / s_o
    (both multipliers computed in float32, as activations.cc does; int32 wrap included)."""
    sx, so = _scale(qx), _scale(qo)
    (mi,), (si,) = quantize_multiplier(float(sx / so))
    (ma,), (sa,) = quantize_multiplier(float(sx * np.float32(alpha) / so))
    v = _inputs(in_dtype, qx)
    identity = multiply_by_quantized_multiplier_np(v, int(mi), int(si))
    scaled = multiply_by_quantized_multiplier_np(v, int(ma), int(sa))
    return _clamped(np.where(v >= 0, identity, scaled) + qo.zp, clamp)


def _float_lut(
    in_dtype: str, qx: QParams, qo: QParams, f: Callable[[np.ndarray], np.ndarray], clamp: Clamp
) -> np.ndarray:
    """TFLite's LUTPopulate: s_x * (x - zx) and f in float32, round half away from zero of
    y * (1 / s_o), plus zo."""
    x = _scale(qx) * _inputs(in_dtype, qx).astype(np.float32)
    with np.errstate(over="ignore"):  # exp(-x) of a large negative x: inf, then 0
        y = f(x).astype(np.float32) * (np.float32(1) / _scale(qo))
    rounded = np.sign(y) * np.floor(np.abs(y) + np.float32(0.5))
    return _clamped(rounded.astype(np.int64) + qo.zp, clamp)


def logistic(in_dtype: str, qx: QParams, qo: QParams, clamp: Clamp) -> np.ndarray:
    """LOGISTIC: 1 / (1 + exp(-x)) in float32."""
    one = np.float32(1)
    return _float_lut(in_dtype, qx, qo, lambda x: one / (one + np.exp(-x)), clamp)


def tanh(in_dtype: str, qx: QParams, qo: QParams, clamp: Clamp) -> np.ndarray:
    """TANH: tanh(x) in float32."""
    return _float_lut(in_dtype, qx, qo, np.tanh, clamp)


def hard_swish(in_dtype: str, qx: QParams, qo: QParams, clamp: Clamp) -> np.ndarray | None:
    """HARD_SWISH in reference_ops::HardSwish's 16-bit fixed point: the input on a 2^7 finer
    scale, times the output multiplier (rounding doubling high mul), times a "relu-ish" value,
    the input rescaled so that 3.0 is 2^15 (saturating) and mapped from [-1, 1] to [0, 1]
    (doubling high mul rounding toward zero), then shifted to the output scale. None where
    TFLite refuses the op (an output multiplier of 1 or more: s_out <= s_x / 128)."""
    hires = np.float32(1 / 128) * _scale(qx)  # float32 throughout, as HardSwishPrepare
    out_m, out_e = _int16_multiplier(hires / _scale(qo))
    if out_e > 0:
        return None
    relu_m, relu_e = _int16_multiplier(hires / np.float32(3 / 32768))
    hires_in = _inputs(in_dtype, qx) * (1 << 7)
    preshift_out = _srdhm16(hires_in, out_m)
    reluish = hires_in
    if relu_e > 0:
        reluish = _saturating_left_shift16(reluish, relu_e - 1)
    reluish = _srdhm16(reluish, relu_m)
    if relu_e > 0:
        reluish = _saturating_left_shift16(reluish, 1)
    if relu_e < 0:
        reluish = _rounding_divide_by_pot(reluish, -relu_e)
    reluish = (reluish + (1 << 15)) >> 1
    preshift = np.trunc(reluish * preshift_out / (1 << 15)).astype(np.int64)  # SQDMULH
    return _clamped(_rounding_divide_by_pot(preshift, -out_e) + qo.zp, clamp)


def _int16_multiplier(real: np.float32) -> tuple[int, int]:
    """QuantizeMultiplier of `real`, its int32 multiplier rounded to 16 bits
    (DownScaleInt32ToInt16Multiplier)."""
    (m,), (e,) = quantize_multiplier(float(real))
    m = int(m)
    if m >= (1 << 31) - 1 - (1 << 15):
        return INT16_MAX, int(e)
    return (m + (1 << 15)) >> 16, int(e)


def _srdhm16(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp's SaturatingRoundingDoublingHighMul on int16 values."""
    ab = a * b
    nudged = ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14))
    high = np.trunc(nudged / (1 << 15)).astype(np.int64)
    return np.where((a == INT16_MIN) & (b == INT16_MIN), INT16_MAX, high)


def _saturating_left_shift16(a: np.ndarray, amount: int) -> np.ndarray:
    return np.clip(a * (1 << amount), INT16_MIN, INT16_MAX)


def _rounding_divide_by_pot(x: np.ndarray, exponent: int) -> np.ndarray:
    """gemmlowp's RoundingDivideByPOT on int16 values: x / 2^e rounded half away from zero,
    for e < 16; its mask wraps to -1 in int16 from e = 16 on (an output scale 2^16 times the
    input's), which makes the result 1 for x >= 0 and -1 below, as TFLite computes it."""
    mask = (((1 << exponent) - 1 + (1 << 15)) % (1 << 16)) - (1 << 15)
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)
