"""TE computations of the integer kernels the rewrite emits (with `BlockBuilder.emit_te`).

Each one is elementwise or a small reduction, so Relax's FuseOps fuses the requantization into
the epilogue of the int32 convolution before it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from tvm import te, tirx

from .fixed_point import (
    mean_multiplier,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_np,
    quantize_multiplier,
    requantize_channel,
    round_half_away_divide,
    saturate,
    scalar_requantization,
)
from .float_requantization import requantize_float

if TYPE_CHECKING:
    from .rewrite import QParams

Clamp = tuple[int, int, str]  # activation min, max, output dtype

ADD_LEFT_SHIFT = 20  # TFLite add.cc, 8-bit inputs


def requantize_per_channel(
    acc: te.Tensor, mult: te.Tensor, shift: te.Tensor, zp: int, clamp, left_shifts: bool = True
):
    """int32 accumulator -> MultiplyByQuantizedMultiplier per output channel + zp -> clamp.
    `left_shifts`: some channel's shift is positive (see multiply_by_quantized_multiplier)."""
    lo, hi, dtype = clamp

    def f(*i):
        c = i[-1]
        v = multiply_by_quantized_multiplier(acc(*i), mult[c], shift[c], left_shifts) + zp
        return saturate(v, lo, hi, dtype)

    return te.compute(acc.shape, f, name="requantize")


def requantize_per_channel_fixed(
    acc: te.Tensor,
    bias: te.Tensor,
    mult: te.Tensor,
    rounding: te.Tensor,
    shift: te.Tensor,
    clamp: Clamp,
    zp: int,
    nudge: bool = True,
):
    """int32 accumulator -> per-channel ChannelRequantization (bias, zero point and any other
    per-channel offset folded into its int32 constants) -> clamp. `zp`, the output zero point
    (already in `rounding`), tells whether the clamp saturates every result of at most zp (a
    ReLU's does), so negative products need no correction; `nudge=False`: the constants come
    from `ChannelRequantization.without_nudge` (see `requantize_channel`)."""
    lo, hi, dtype = clamp

    def f(*i):
        c = i[-1]
        consts = (t[c] for t in (bias, mult, rounding, shift))
        value = requantize_channel(acc(*i), *consts, negatives=lo < zp, nudge=nudge)
        return saturate(value, lo, hi, dtype)

    return te.compute(acc.shape, f, name="requantize")


def requantize_per_channel_float(
    acc: te.Tensor, bias: te.Tensor, scale: te.Tensor, zp: int, clamp: Clamp
):
    """int32 accumulator -> float requantization per output channel (`bias` holds the conv's
    bias and every other per-channel offset; the scale's dtype picks XNNPACK's float32 or
    LiteRT's reference FULLY_CONNECTED float64 arithmetic) -> output dtype."""
    lo, hi, dtype = clamp

    def f(*i):
        c = i[-1]
        return requantize_float(acc(*i), bias[c], scale[c], zp, lo, hi).astype(dtype)

    return te.compute(acc.shape, f, name="requantize")


def quantized_add(
    a: te.Tensor, b: te.Tensor, qa: QParams, qb: QParams, qo: QParams, clamp, shape: tuple
):
    """TFLite's 8-bit ADD (broadcasting as NumPy to `shape`): both inputs to a shared
    2^20-scaled domain, sum, requantize (the zero points folded into the requantizations'
    constants)."""
    lo, hi, dtype = clamp
    sa, sb, so = (float(q.scale.reshape(-1)[0]) for q in (qa, qb, qo))
    twice_max = 2.0 * max(sa, sb)
    (ma,), (sha,) = quantize_multiplier(sa / twice_max)
    (mb,), (shb,) = quantize_multiplier(sb / twice_max)
    (mo,), (sho,) = quantize_multiplier(twice_max / (float(1 << ADD_LEFT_SHIFT) * so))
    scale_a = scalar_requantization(int(ma), int(sha), offset=-qa.zp, input_shift=ADD_LEFT_SHIFT)
    scale_b = scalar_requantization(int(mb), int(shb), offset=-qb.zp, input_shift=ADD_LEFT_SHIFT)
    out = scalar_requantization(int(mo), int(sho), zp=qo.zp)

    def f(*i):
        va, vb = _read(a, i, shape).astype("int32"), _read(b, i, shape).astype("int32")
        return saturate(out(scale_a(va) + scale_b(vb)), lo, hi, dtype)

    return te.compute(shape, f, name="quantized_add")


def quantized_mul(
    a: te.Tensor, b: te.Tensor, qa: QParams, qb: QParams, qo: QParams, clamp, shape: tuple
):
    """TFLite's 8-bit MUL (broadcasting as NumPy to `shape`): (a - za) * (b - zb) in int32,
    requantized by s_a * s_b / s_o, computed in float32 as mul.cc does."""
    lo, hi, dtype = clamp
    sa, sb, so = (np.float32(q.scale.reshape(-1)[0]) for q in (qa, qb, qo))
    (m,), (s,) = quantize_multiplier(float(sa * sb / so))
    out = scalar_requantization(int(m), int(s), zp=qo.zp)

    def f(*i):
        va = _broadcast(a, i).astype("int32") - qa.zp
        vb = _broadcast(b, i).astype("int32") - qb.zp
        return saturate(out(va * vb), lo, hi, dtype)

    return te.compute(shape, f, name="quantized_mul")


def quantized_relu(x: te.Tensor, qx: QParams, qo: QParams, clamp):
    """TFLite's 8-bit RELU, RELU6 and RELU_N1_TO_1 (QuantizedReluX): x - zx requantized by
    s_x / s_o (divided in float32, as ReluPrepare does), plus zo, clamped to the activation's
    range (`clamp`)."""
    lo, hi, dtype = clamp
    sx, so = (np.float32(q.scale.reshape(-1)[0]) for q in (qx, qo))
    (m,), (s,) = quantize_multiplier(float(sx / so))
    out = scalar_requantization(int(m), int(s), zp=qo.zp, offset=-qx.zp)
    return te.compute(
        x.shape,
        lambda *i: saturate(out(x(*i).astype("int32")), lo, hi, dtype),
        name="quantized_relu",
    )


def quantized_hard_swish(x: te.Tensor, qx: QParams, qo: QParams, clamp, multipliers: tuple):
    """TFLite's 8-bit HARD_SWISH (reference_ops::HardSwish) in its 16-bit fixed point, on int32
    values: the input on a 2^7 finer scale, times the output multiplier; a "relu-ish" factor
    in [0, 1] (the input rescaled so that 3.0 is 2^15, saturating, mapped from [-1, 1]); their
    doubling high product (rounding toward zero), shifted to the output scale. `multipliers`:
    `hard_swish_multipliers`. Vector arithmetic only: as a 256-entry table the lookup's gather
    ran MobileNetV3-like blocks 1.37x slower than TVM's float form."""
    lo, hi, dtype = clamp
    out_m, out_e, relu_m, relu_e = multipliers

    def f(*i):
        hires = (x(*i).astype("int32") - qx.zp) * (1 << 7)
        on_output_scale = _srdhm16(hires, out_m)
        reluish = hires
        if relu_e > 0:  # saturating left shifts around the multiply, as TFLite; in int32:
            # |h| <= 255 * 2^7 (8-bit inputs), and shifts past 15 saturate as 15 does
            reluish = _saturate16(reluish << min(relu_e - 1, 15))
        reluish = _srdhm16(reluish, relu_m)
        if relu_e > 0:
            reluish = _saturate16(reluish << 1)
        if relu_e < 0:
            reluish = _rounding_divide_by_pot16(reluish, -relu_e)
        reluish = (reluish + (1 << 15)) >> 1
        product = reluish * on_output_scale  # SaturatingDoublingHighMul: rounds toward zero
        preshift = (product + ((product >> 31) & ((1 << 15) - 1))) >> 15
        return saturate(_rounding_divide_by_pot16(preshift, -out_e) + qo.zp, lo, hi, dtype)

    return te.compute(x.shape, f, name="quantized_hard_swish")


def hard_swish_multipliers(qx: QParams, qo: QParams) -> tuple[int, int, int, int] | None:
    """HardSwishPrepare's (output multiplier, its exponent, relu-ish multiplier, its exponent),
    16-bit multipliers computed in float32 as TFLite does; None where TFLite refuses the op (an
    output multiplier of 1 or more: s_out <= s_x / 128)."""
    hires = np.float32(1 / 128) * np.float32(qx.scale.reshape(-1)[0])
    out_m, out_e = _int16_multiplier(hires / np.float32(qo.scale.reshape(-1)[0]))
    relu_m, relu_e = _int16_multiplier(hires / np.float32(3 / 32768))
    return None if out_e > 0 else (out_m, out_e, relu_m, relu_e)


def _int16_multiplier(real: np.float32) -> tuple[int, int]:
    """QuantizeMultiplier of `real`, rounded to 16 bits (DownScaleInt32ToInt16Multiplier)."""
    (m,), (e,) = quantize_multiplier(float(real))
    m = int(m)
    if m >= (1 << 31) - 1 - (1 << 15):
        return (1 << 15) - 1, int(e)
    return (m + (1 << 15)) >> 16, int(e)


def _srdhm16(a: Any, b: int) -> Any:
    """gemmlowp's SaturatingRoundingDoublingHighMul of int16 values held in int32, by a
    multiplier b in [0, 2^15) (so never saturating): floor((a b + 2^14) / 2^15)."""
    return (a * b + (1 << 14)) >> 15


def _saturate16(a: Any) -> Any:
    return tirx.max(tirx.min(a, (1 << 15) - 1), -(1 << 15))


def _rounding_divide_by_pot16(x: Any, exponent: int) -> Any:
    """gemmlowp's RoundingDivideByPOT of an int16 value held in int32: rounded half away from
    zero for e < 16; from e = 16 on its int16 mask wraps to -1 and the result is 1 for x >= 0,
    -1 below, as TFLite computes it."""
    if exponent == 0:
        return x
    if exponent >= 16:
        return ((x >> 31) << 1) + 1
    half = 1 << (exponent - 1)
    return (x + half - ((x >> 31) & 1)) >> exponent


def leaky_relu_table(
    in_dtype: str, qx: QParams, qo: QParams, alpha: float, clamp: Clamp
) -> np.ndarray:
    """TFLite's 8-bit LEAKY_RELU for every input value, as a table: x - zx requantized by
    s_x / s_o where it is >= 0, else by alpha * s_x / s_o (both computed in float32, as
    activations.cc does; int32 wrap included). Indexed by x - min of the input type `in_dtype`.
    A select of two requantizations inlined after MUL and ADD made one task's search take
    3.5 min per iteration."""
    lo, hi, dtype = clamp
    sx, so = np.float32(qx.scale.reshape(-1)[0]), np.float32(qo.scale.reshape(-1)[0])
    (mi,), (si,) = quantize_multiplier(float(sx / so))
    (ma,), (sa,) = quantize_multiplier(float(sx * np.float32(alpha) / so))
    info = np.iinfo(in_dtype)
    v = np.arange(info.min, info.max + 1, dtype=np.int64) - qx.zp
    identity = multiply_by_quantized_multiplier_np(v, int(mi), int(si))
    scaled = multiply_by_quantized_multiplier_np(v, int(ma), int(sa))
    return np.clip(np.where(v >= 0, identity, scaled) + qo.zp, lo, hi).astype(dtype)


def table_lookup(x: te.Tensor, table: te.Tensor, offset: int):
    """table[x - offset] elementwise: an 8-bit op of one input as a 256-entry table (its input
    read once, so a fused chain's expression does not grow with the op's formula)."""
    return te.compute(
        x.shape, lambda *i: table[x(*i).astype("int32") - offset], name="table_lookup"
    )


def _read(t: te.Tensor, index: tuple, shape: tuple) -> Any:
    """`t` at the output `index`: read as it is where its shape is the output's (the kernel
    as before broadcasting was supported, so its tasks' records still match), else
    broadcast."""
    if tuple(int(d) for d in t.shape) == tuple(shape):
        return t(*index)
    return _broadcast(t, index)


def _broadcast(t: te.Tensor, index: tuple) -> Any:
    """`t` read at the output `index` as NumPy broadcasting reads it (right-aligned, extent-1
    axes at 0)."""
    rank = len(t.shape)
    tail = index[len(index) - rank :] if rank else ()
    return t(*(0 if int(d) == 1 else i for d, i in zip(t.shape, tail)))


def quantized_mean_hw(x: te.Tensor, qx: QParams, qo: QParams, keepdims: bool, clamp):
    """MEAN over H and W of NHWC: int32 sum, then one requantization with 1/(H*W) folded into
    the multiplier and the input zero point's contribution into its constants."""
    lo, hi, dtype = clamp
    n, h, w, c = (int(d) for d in x.shape)
    count = h * w
    (m,), (s,) = quantize_multiplier(float(qx.scale.reshape(-1)[0]) / float(qo.scale))
    m, s = mean_multiplier(int(m), int(s), count)
    requantize = scalar_requantization(m, s, zp=qo.zp, offset=-qx.zp * count)
    rh = te.reduce_axis((0, h), name="rh")
    rw = te.reduce_axis((0, w), name="rw")
    total = te.compute(
        (n, c), lambda b, k: te.sum(x[b, rh, rw, k].astype("int32"), axis=[rh, rw]), name="sum"
    )

    def f(b, k):
        return saturate(requantize(total[b, k]), lo, hi, dtype)

    if keepdims:
        return te.compute((n, 1, 1, c), lambda b, i, j, k: f(b, k), name="quantized_mean")
    return te.compute((n, c), f, name="quantized_mean")


def average_pool_nhwc(x: te.Tensor, pool: tuple, strides: tuple, padding: tuple):
    """TFLite's integer AVERAGE_POOL_2D: sum of the valid window / count, rounded half away."""
    n, h, w, c = (int(d) for d in x.shape)
    kh, kw = pool
    sh, sw = strides
    top, left, bottom, right = padding
    oh = (h + top + bottom - kh) // sh + 1
    ow = (w + left + right - kw) // sw + 1
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")

    def inside(y: Any, xx: Any) -> Any:
        return tirx.all(y >= 0, y < h, xx >= 0, xx < w)

    def window_sum(b, i, j, k):
        y, xx = i * sh - top + ry, j * sw - left + rx
        value = tirx.if_then_else(
            inside(y, xx),
            x[b, tirx.max(tirx.min(y, h - 1), 0), tirx.max(tirx.min(xx, w - 1), 0), k].astype(
                "int32"
            ),
            0,
        )
        return te.sum(value, axis=[ry, rx])

    total = te.compute((n, oh, ow, c), window_sum, name="pool_sum")

    def f(b, i, j, k):
        y0, x0 = i * sh - top, j * sw - left
        rows = tirx.min(y0 + kh, h) - tirx.max(y0, 0)
        cols = tirx.min(x0 + kw, w) - tirx.max(x0, 0)
        return round_half_away_divide(total[b, i, j, k], rows * cols).astype(x.dtype)

    return te.compute((n, oh, ow, c), f, name="average_pool")


def conv2d_nhwc_packed(data: te.Tensor, weight: te.Tensor, strides: tuple, dilation: tuple):
    """int32 conv2d of NHWC data (padded already) with weights packed for a dot-product
    instruction: [KH, KW, O/lanes, I/depth, lanes, depth], so one instruction's weight tile
    (lanes output channels x depth inputs) is contiguous in memory."""
    n, h, w, _ = (int(d) for d in data.shape)
    kh, kw, o_blocks, i_blocks, lanes, depth = (int(d) for d in weight.shape)
    (sh, sw), (dh, dw) = strides, dilation
    oh = (h - (kh - 1) * dh - 1) // sh + 1
    ow = (w - (kw - 1) * dw - 1) // sw + 1
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")
    rc = te.reduce_axis((0, i_blocks * depth), name="rc")

    def f(b, y, x, o):
        a = data[b, y * sh + ry * dh, x * sw + rx * dw, rc].astype("int32")
        k = weight[ry, rx, o // lanes, rc // depth, o % lanes, rc % depth].astype("int32")
        return te.sum(a * k, axis=[ry, rx, rc])

    return te.compute((n, oh, ow, o_blocks * lanes), f, name="conv2d_nhwc")


def depthwise_conv2d_nhwc(
    data: te.Tensor, weight: te.Tensor, strides: tuple, padding: tuple, dilation: tuple, pad_value
):
    """int32 depthwise conv2d of NHWC data with HWOI weights (I = 1, O = C x multiplier),
    padding with `pad_value` (the input zero point) inside the kernel, as the float conv's
    legalization does, so the pad is not a kernel (and a tuning task) of its own."""
    n, h, w, c = (int(d) for d in data.shape)
    kh, kw, o, _ = (int(d) for d in weight.shape)
    (sh, sw), (dh, dw) = strides, dilation
    top, left, bottom, right = padding
    multiplier = o // c
    ph, pw = h + top + bottom, w + left + right
    padded = data
    if top or left or bottom or right:

        def pad(b, y, x, k):
            inside = tirx.all(y >= top, y < top + h, x >= left, x < left + w)
            value = data[
                b, tirx.max(tirx.min(y - top, h - 1), 0), tirx.max(tirx.min(x - left, w - 1), 0), k
            ]
            return tirx.if_then_else(inside, value, tirx.const(pad_value, data.dtype))

        padded = te.compute((n, ph, pw, c), pad, name="pad_temp")
    oh = (ph - (kh - 1) * dh - 1) // sh + 1
    ow = (pw - (kw - 1) * dw - 1) // sw + 1
    ry = te.reduce_axis((0, kh), name="ry")
    rx = te.reduce_axis((0, kw), name="rx")

    def f(b, y, x, k):
        a = padded[b, y * sh + ry * dh, x * sw + rx * dw, k // multiplier].astype("int32")
        return te.sum(a * weight[ry, rx, k, 0].astype("int32"), axis=[ry, rx])

    return te.compute((n, oh, ow, o), f, name="group_conv2d_nhwc")
