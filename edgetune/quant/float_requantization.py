"""Requantizations in floating point: XNNPACK's fp32 one (`--requantize fp32`) and LiteRT's
reference FULLY_CONNECTED's float64 one.

TFLite's reference conv kernels requantize an int32 accumulator with a 31-bit fixed-point
multiplier and two rounding shifts (`fixed_point`): exact, but it needs 64-bit products, about
15 vector instructions per 16 outputs on AVX-512 (11 after a ReLU's clamp). XNNPACK, LiteRT's
default CPU kernels, requantizes in float32 instead: the accumulator (bias included) converted
to float, times a per-channel float32 scale computed as `input_scale * weight_scale /
output_scale` in float32, clamped, rounded to nearest even, plus the output zero point: about
7 instructions. Its results differ from the reference kernels' by one step where a product
lands near a rounding boundary (up to ~20 LSB after MobileNetV2's 50 layers); with this mode the
convs compute XNNPACK's arithmetic.

LiteRT's reference FULLY_CONNECTED (int8, per-tensor and per-channel weights; since LiteRT's
"Make the fully_connected ref kernel do requant in float", April 2025) requantizes in float64:
std::round(double(acc) * (double(input_scale) * double(weight_scale) / double(output_scale))),
halves away from zero. Its fixed-point form differs by one step on ~0.1-25 % of the outputs
(depending on the scale), so the bit-exact mode follows it for FULLY_CONNECTED.

Two modes, chosen when a quantized model is imported (`load_model(requantization=...)`):
FIXED_POINT (the default; bit-exact with LiteRT's reference kernels: fixed point for the convs,
float64 for FULLY_CONNECTED) and FP32 (XNNPACK's, every conv and FULLY_CONNECTED).
ADD, MEAN and AVERAGE_POOL_2D keep TFLite's integer math in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FIXED_POINT = "fixed-point"
FP32 = "fp32"
REQUANTIZATIONS = (FIXED_POINT, FP32)

_INT32 = np.iinfo(np.int32)


@dataclass(frozen=True)
class FloatRequantization:
    """Per-channel constants: int32 `bias` added to the accumulator (exactly, as TFLite and
    XNNPACK add it in int32), a float `scale` multiplying the sum. The scale's dtype is the
    arithmetic: float32 is XNNPACK's (rounded to nearest even), float64 LiteRT's reference
    FULLY_CONNECTED's (rounded half away from zero)."""

    bias: np.ndarray  # int32
    scale: np.ndarray  # float32 or float64

    @staticmethod
    def xnnpack(
        input_scale: float, weight_scales: Any, output_scale: float, bias: Any
    ) -> FloatRequantization | None:
        """XNNPACK's constants of a conv: its float32 scale, in its order of operations, and
        its bias (None: the bias does not fit int32)."""
        w = np.atleast_1d(np.asarray(weight_scales, np.float32))
        scale = (np.float32(input_scale) * w) / np.float32(output_scale)
        return FloatRequantization._checked(np.broadcast_to(bias, w.shape), scale)

    @staticmethod
    def reference_fully_connected(
        input_scale: float, weight_scales: Any, output_scale: float, bias: Any
    ) -> FloatRequantization | None:
        """LiteRT's reference FULLY_CONNECTED constants: the float32 scales widened to float64
        before they multiply and divide (None: the bias does not fit int32)."""
        w = np.atleast_1d(np.asarray(weight_scales, np.float32)).astype(np.float64)
        scale = np.float64(np.float32(input_scale)) * w / np.float64(np.float32(output_scale))
        return FloatRequantization._checked(np.broadcast_to(bias, w.shape), scale)

    def plus(self, offset: Any) -> FloatRequantization | None:
        """The constants for this requantization of acc + offset (None: a bias leaves int32)."""
        return self._checked(self.bias.astype(np.int64) + np.asarray(offset, np.int64), self.scale)

    @staticmethod
    def _checked(bias: Any, scale: np.ndarray) -> FloatRequantization | None:
        bias = np.asarray(bias, np.int64)
        if bias.min() < _INT32.min or bias.max() > _INT32.max:
            return None
        return FloatRequantization(bias.astype(np.int32), np.asarray(scale))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """bias, scale: the order `requantize_float` takes them."""
        return self.bias, self.scale


def requantize_float(acc: Any, bias: Any, scale: Any, zp: int, lo: int, hi: int) -> Any:
    """(acc + bias) * scale in the scale's float type, clamped to [lo - zp, hi - zp], rounded,
    + zp (int32). float32: XNNPACK's fp32 requantization of one output, rounded to nearest even.
    float64: LiteRT's reference FULLY_CONNECTED, rounded half away from zero (std::round) as
    trunc(v) + [v - trunc(v) >= 1/2] - [v - trunc(v) <= -1/2], exact for |v| < 2^52. The clamp
    comes before the rounding (as in XNNPACK; the same result for integer bounds), so no value
    reaches the float-to-int conversion's overflow, and it keeps the product away from the
    subtraction (LLVM could fuse a multiply feeding a subtract into an FMA, which skips the
    product's rounding)."""
    from ..tvm_api import tirx

    dtype = str(scale.dtype)
    value = (acc + bias).astype(dtype) * scale
    low, high = tirx.const(float(lo - zp), dtype), tirx.const(float(hi - zp), dtype)
    clamped = tirx.min(tirx.max(value, low), high)
    if dtype == "float32":
        rounded = tirx.nearbyint(clamped)
    else:
        whole = tirx.trunc(clamped)
        fraction = clamped - whole
        half = tirx.const(0.5, dtype)
        rounded = whole + (fraction >= half).astype(dtype) - (fraction <= -half).astype(dtype)
    return rounded.astype("int32") + tirx.const(zp, "int32")
