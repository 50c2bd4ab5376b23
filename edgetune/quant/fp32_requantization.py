"""XNNPACK's fp32 requantization of the integer convolutions (`--requantize fp32`).

TFLite's reference kernels requantize an int32 accumulator with a 31-bit fixed-point multiplier
and two rounding shifts (`fixed_point`): exact, but on x86 it needs 64-bit products, about 16
vector instructions per 16 outputs even in its folded form. XNNPACK, LiteRT's default CPU
kernels, requantizes in float32 instead: the accumulator (bias included) converted to float,
times a per-channel float32 scale computed as `input_scale * weight_scale / output_scale` in
float32, clamped, rounded to nearest even, plus the output zero point: about 7 instructions.
Its results differ from the reference kernels' by one step where a product lands near a
rounding boundary (up to ~20 LSB after MobileNetV2's 50 layers); with this mode the convs
compute XNNPACK's arithmetic.

Two modes, chosen when a quantized model is imported (`load_model(requantization=...)`):
FIXED_POINT (the default; bit-exact with LiteRT's reference kernels) and FP32 (XNNPACK's).
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
class Fp32Requantization:
    """Per-channel constants: int32 `bias` added to the accumulator (exactly, as TFLite and
    XNNPACK add it in int32), float32 `scale` multiplying the sum."""

    bias: np.ndarray  # int32
    scale: np.ndarray  # float32

    @staticmethod
    def of(
        input_scale: float, weight_scales: Any, output_scale: float, bias: Any
    ) -> Fp32Requantization | None:
        """The constants of a conv: XNNPACK's scale (float32, in its order of operations) and
        its bias (None: the bias does not fit int32)."""
        w = np.atleast_1d(np.asarray(weight_scales, np.float32))
        scale = (np.float32(input_scale) * w) / np.float32(output_scale)
        return Fp32Requantization._checked(np.broadcast_to(bias, w.shape), scale)

    def plus(self, offset: Any) -> Fp32Requantization | None:
        """The constants for this requantization of acc + offset (None: a bias leaves int32)."""
        return self._checked(self.bias.astype(np.int64) + np.asarray(offset, np.int64), self.scale)

    @staticmethod
    def _checked(bias: Any, scale: np.ndarray) -> Fp32Requantization | None:
        bias = np.asarray(bias, np.int64)
        if bias.min() < _INT32.min or bias.max() > _INT32.max:
            return None
        return Fp32Requantization(bias.astype(np.int32), scale.astype(np.float32))

    def arrays(self) -> tuple[np.ndarray, ...]:
        """bias, scale: the order `requantize_fp32` takes them."""
        return self.bias, self.scale


def requantize_fp32(acc: Any, bias: Any, scale: Any, zp: int, lo: int, hi: int) -> Any:
    """float32(acc + bias) * scale, clamped to [lo - zp, hi - zp], rounded to nearest even,
    + zp (int32): XNNPACK's fp32 requantization of one output. The clamp comes before the
    rounding, as in XNNPACK, so no value reaches the float-to-int conversion's overflow."""
    from ..tvm_api import tirx

    value = (acc + bias).astype("float32") * scale
    low, high = tirx.const(float(lo - zp), "float32"), tirx.const(float(hi - zp), "float32")
    clamped = tirx.min(tirx.max(value, low), high)
    return tirx.nearbyint(clamped).astype("int32") + tirx.const(zp, "int32")
