"""Integer rewrite of TVM's QDQ import of quantized TFLite models.

TVM 0.27 imports every quantized op as dequantize -> float op -> quantize. This pass finds those
chains in the Relax function and replaces each one it covers by the integer computation of
TFLite's reference kernels:

- CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: int8 x int8 products accumulated in int32
  (explicit pad with the input zero point, conv2d with out_dtype int32, weights in HWOI so the
  output channel and reduction axes are innermost), per-channel fixed-point requantization
  with the bias, the input zero point's contribution (bias - zx * sum(w)) and the output zero
  point folded into its constants (fixed_point.ChannelRequantization); FULLY_CONNECTED is a 1x1
  conv over the batch, requantized in float64 as LiteRT's reference FULLY_CONNECTED does
  (float_requantization). With `--requantize fp32` all of them use XNNPACK's float32
  requantization (float_requantization).
- ADD (broadcasting): both inputs rescaled to a common 2^20-scaled integer domain (TFLite's
  add.cc), summed, requantized.
- MUL (broadcasting): (a - za) * (b - zb) in int32, requantized (TFLite's mul.cc).
- LEAKY_RELU: x - zx requantized by one of two multipliers by its sign (activations.cc), as a
  lookup in the table of its 256 results.
- HARD_SWISH: reference_ops::HardSwish's 16-bit fixed point.
- RELU, RELU6, RELU_N1_TO_1 of their own (input and output quantized apart): x - zx requantized
  by s_x / s_o, clamped (QuantizedReluX).
- MEAN (over H, W): int32 sum, one requantization with 1/N folded into the multiplier
  (TFLite's QuantizedMeanOrSum).
- AVERAGE_POOL_2D: int32 window sum divided by the count of valid elements, rounded half away
  from zero (TVM's import truncates).

A float relu/relu6 clip between the float op and its quantize, and an integer clip right after
a rewritten kernel (TVM imports TFLite's fused activations of quantized ops that way), are folded
into the kernel's saturating clamp: no separate clip kernel, no extra pass over the output.
Other quantized-domain clips stay as integer clips. Chains the pass does not cover (other ops,
weights with non-zero zero points) keep the QDQ form.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from tvm import relax

from ..tvm_api import rewrite_relax_functions
from . import kernels
from .fixed_point import ChannelRequantization, quantize_multiplier
from .float_requantization import FIXED_POINT, FP32, FloatRequantization

CLAMP_ATTR = "edgetune.clamp"  # [lo, hi] of a clamped kernel, for target rewrites (operands)
# 0 where a fixed-point requantization's constants leave out SRDHM's 2^30 (operands' AMX kernels)
NUDGE_ATTR = "edgetune.nudge"
# a depthwise conv's keyword parameters (kernels.depthwise_conv2d_nhwc), for target rewrites
DEPTHWISE_ATTR = "edgetune.depthwise"

# a table lookup's PrimFunc: elementwise for FuseOps (`tasks.lower.tables_elementwise`)
TABLE_ATTR = "edgetune.table_lookup"

INTEGER_OPS = (
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "FULLY_CONNECTED",
    "ADD",
    "MUL",
    "LEAKY_RELU",
    "HARD_SWISH",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "AVERAGE_POOL_2D",
    "MEAN",
)


def emit_depthwise(bb: Any, data: Any, weight: Any, params: dict[str, Any]) -> Any:
    """Emit `kernels.depthwise_conv2d_nhwc` with `params` (strides, padding, dilation,
    pad_value), kept in the PrimFunc's DEPTHWISE_ATTR so a target rewrite can emit it again."""
    return bb.emit_te(
        partial(kernels.depthwise_conv2d_nhwc, **params),
        data,
        weight,
        primfunc_name_hint="depthwise_conv2d",
        primfunc_attrs={DEPTHWISE_ATTR: {k: _listed(v) for k, v in params.items()}},
    )


def _listed(value: Any) -> Any:
    """Tuples as lists: the form a PrimFunc attribute holds."""
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class QParams:
    """Scale(s) and zero point(s) of a quantized tensor, as TFLite stores them (float32)."""

    scale: np.ndarray  # float32, shape () or (C,)
    zero_point: np.ndarray  # int64, same shape

    @property
    def zp(self) -> int:
        return int(self.zero_point.reshape(-1)[0])

    @property
    def per_tensor(self) -> bool:
        return self.scale.size == 1


def _const(expr: Any) -> np.ndarray | None:
    from tvm.ir.expr import Constant

    return expr.value.numpy() if isinstance(expr, Constant) else None


def _is(expr: Any, name: str) -> bool:
    return isinstance(expr, relax.Call) and getattr(expr.op, "name", None) == f"relax.{name}"


def _number(expr: Any) -> float | None:
    """A scalar from a PrimValue/IntImm/FloatImm/constant argument."""
    value = getattr(expr, "value", expr)
    if hasattr(value, "numpy"):
        return float(value.numpy())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _qparams(call: Any) -> QParams | None:
    scale, zp = _const(call.args[1]), _const(call.args[2])
    if scale is None or zp is None:
        return None
    return QParams(scale.astype(np.float32), zp.astype(np.int64))


def _dtype(expr: Any) -> str:
    return str(expr.ty.dtype)


def _range(dtype: str) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


@relax.expr_functor.mutator
class _Integerizer(relax.PyExprMutator):
    """Post-order rewrite of `quantize(...)` and quantized average-pool calls."""

    def __init__(self, mod: Any, requantization: str) -> None:
        super().__init__(mod)
        self.requantization = requantization
        self.counts: Counter = Counter()
        self._clamped: dict[Any, tuple[Any, tuple, dict]] = {}  # var -> kernel emitted for it

    # -- helpers on the rewritten program -----------------------------------------------------
    def _def(self, expr: Any) -> Any:
        if isinstance(expr, relax.Var):
            bound = self.lookup_binding(expr)
            return bound if bound is not None else expr
        return expr

    def _dequantized(self, expr: Any) -> tuple[Any, QParams] | None:
        """(integer operand, its qparams) if `expr` is dequantize(x)."""
        call = self._def(expr)
        if not _is(call, "dequantize"):
            return None
        q = _qparams(call)
        return (call.args[0], q) if q is not None else None

    def _weight(self, expr: Any) -> tuple[np.ndarray, QParams, int] | None:
        """Constant integer weight behind dequantize (through reshape/permute_dims), as int8
        values w8 and an offset c with w - zero point = w8 + c: int8 weights (zero point 0)
        as they are, c = 0; uint8 weights with one zero point z (TF1's converters) as w - 128,
        c = 128 - z (w - z itself spans up to [-255, 255])."""
        call = self._def(expr)
        reshape = None
        if _is(call, "reshape"):
            reshape = [int(d) for d in call.ty.shape]
            call = self._def(call.args[0])
        deq = self._dequantized(call)
        if deq is None:
            return None
        source, q = deq
        source = self._def(source)
        axes = None
        if _is(source, "permute_dims"):
            axes = [int(a) for a in source.attrs.axes]
            source = self._def(source.args[0])
        w = _const(source)
        if w is not None and w.dtype == np.uint8 and q.per_tensor:
            w, offset = (w.astype(np.int16) - 128).astype(np.int8), 128 - q.zp
        elif w is not None and w.dtype == np.int8 and not np.any(q.zero_point != 0):
            offset = 0
        else:
            return None
        if axes is not None:
            w = np.transpose(w, axes)
        if reshape is not None:
            w = w.reshape(reshape)
        return w, q, offset

    # -- the visitor --------------------------------------------------------------------------
    def visit_call_(self, call: Any) -> Any:
        call = self.visit_expr_post_order(call)
        if _is(call, "quantize"):
            out = self._rewrite_quantize(call)
            return call if out is None else out
        if _is(call, "astype"):
            out = self._rewrite_avg_pool(call)
            return call if out is None else out
        if _is(call, "clip"):
            out = self._fold_clip(call)
            return call if out is None else out
        return call

    def _emit(self, func: Any, *tensors: Any, **params: Any) -> Any:
        """Emit a TE kernel whose non-tensor parameters are bound in Python; kernels with a
        saturating clamp are remembered so a clip after them can be folded in."""
        attrs = {CLAMP_ATTR: list(params["clamp"][:2])} if "clamp" in params else {}
        if "nudge" in params:
            attrs[NUDGE_ATTR] = int(params["nudge"])
        var = self.builder_.emit_te(
            partial(func, **params),
            *tensors,
            primfunc_name_hint=func.__name__,
            primfunc_attrs=attrs or None,
        )
        if "clamp" in params:
            self._clamped[var] = (func, tensors, params)
        return var

    def _fold_clip(self, call: Any) -> Any:
        """clip(kernel(...), a, b) -> kernel(...) with its clamp narrowed to [a, b]."""
        source = call.args[0]
        while source not in self._clamped and isinstance(self._def(source), relax.Var):
            source = self._def(source)  # the mutator re-binds rewritten values to new vars
        emitted = self._clamped.get(source)
        a, b = _number(call.args[1]), _number(call.args[2])
        if emitted is None or a is None or b is None:
            return None
        func, tensors, params = emitted
        lo, hi, dtype = params["clamp"]
        clamp = (max(lo, int(np.ceil(a))), min(hi, int(np.floor(b))), dtype)
        return self._emit(func, *tensors, **{**params, "clamp": clamp})

    def _rewrite_quantize(self, call: Any) -> Any:
        out_q = _qparams(call)
        out_dtype = str(call.attrs.out_dtype)
        if out_q is None or not out_q.per_tensor or out_dtype not in ("int8", "uint8"):
            return None
        lo, hi = _range(out_dtype)
        body = self._def(call.args[0])
        activation = None  # the RELU op a stripped clip or relu is, if it stands alone
        if _is(body, "clip"):  # float relu / relu6 between the op and its quantize
            a, b = _number(body.args[1]), _number(body.args[2])
            if a is None or b is None:
                return None
            lo, hi = _activation_range(a, b, out_q, lo, hi)
            activation = {(0.0, 6.0): "RELU6", (-1.0, 1.0): "RELU_N1_TO_1"}.get((a, b), "RELU")
            body = self._def(body.args[0])
        elif _is(body, "nn.relu"):  # an elementwise op's fused RELU (TVM imports it so)
            lo = max(lo, out_q.zp)  # quantize(relu(f)) = max(quantize(f), zero point)
            activation = "RELU"
            body = self._def(body.args[0])
        x = self._dequantized(body) if activation else None
        if x is not None and x[1].per_tensor:  # RELU, RELU6, RELU_N1_TO_1 of their own
            self.counts[activation] += 1
            return self._emit(kernels.quantized_relu, x[0], qx=x[1], qo=out_q,
                              clamp=(lo, hi, out_dtype))  # fmt: skip
        bias = None
        if _is(body, "add"):
            bias = self._bias(body.args[1])
            if bias is not None:
                body = self._def(body.args[0])
        clamp = (lo, hi, out_dtype)
        if _is(body, "nn.conv2d") or _is(body, "matmul"):
            return self._rewrite_linear(body, bias, out_q, clamp)
        if bias is None and _is(body, "add"):
            a, b = self._dequantized(body.args[0]), self._dequantized(body.args[1])
            if a is None or b is None or not (a[1].per_tensor and b[1].per_tensor):
                return None
            self.counts["ADD"] += 1
            shape = tuple(int(d) for d in body.ty.shape)
            return self._emit(kernels.quantized_add, a[0], b[0], qa=a[1], qb=b[1], qo=out_q,
                              clamp=clamp, shape=shape)  # fmt: skip
        if bias is None and _is(body, "multiply"):
            a, b = self._dequantized(body.args[0]), self._dequantized(body.args[1])
            if a is None or b is None or not (a[1].per_tensor and b[1].per_tensor):
                return None
            self.counts["MUL"] += 1
            shape = tuple(int(d) for d in body.ty.shape)
            return self._emit(kernels.quantized_mul, a[0], b[0], qa=a[1], qb=b[1], qo=out_q,
                              clamp=clamp, shape=shape)  # fmt: skip
        if bias is None and _is(body, "nn.leakyrelu"):
            return self._leaky_relu(body, out_q, clamp)
        if bias is None and _is(body, "divide"):
            return self._hard_swish(body, out_q, clamp)
        if bias is None and _is(body, "mean"):
            x = self._dequantized(body.args[0])
            axes = sorted(int(a) % 4 for a in body.attrs.axis) if body.attrs.axis else []
            if x is None or axes != [1, 2] or len(x[0].ty.shape) != 4:
                return None
            self.counts["MEAN"] += 1
            keep = bool(body.attrs.keepdims)
            return self._emit(
                kernels.quantized_mean_hw, x[0], qx=x[1], qo=out_q, keepdims=keep, clamp=clamp
            )
        return None

    def _leaky_relu(self, body: Any, out_q: QParams, clamp: tuple) -> Any:
        """LEAKY_RELU of a dequantized input as a lookup in the table of its 256 results (None:
        another input)."""
        x = self._dequantized(body.args[0])
        if x is None or not x[1].per_tensor:
            return None
        self.counts["LEAKY_RELU"] += 1
        in_dtype = _dtype(x[0])
        table = kernels.leaky_relu_table(in_dtype, x[1], out_q, float(body.attrs.alpha), clamp)
        return self.builder_.emit_te(
            partial(kernels.table_lookup, offset=_range(in_dtype)[0]),
            x[0],
            relax.const(table),
            primfunc_name_hint="table_lookup",
            primfunc_attrs={TABLE_ATTR: True},
        )

    def _hard_swish(self, body: Any, out_q: QParams, clamp: tuple) -> Any:
        """HARD_SWISH of a dequantized input in TFLite's fixed point (None: another body, or
        one TFLite refuses)."""
        source = self._hard_swish_input(body)
        x = self._dequantized(source) if source is not None else None
        if x is None or not x[1].per_tensor:
            return None
        multipliers = kernels.hard_swish_multipliers(x[1], out_q)
        if multipliers is None:  # TFLite refuses it: no kernel of another formula
            return None
        self.counts["HARD_SWISH"] += 1
        return self._emit(kernels.quantized_hard_swish, x[0], qx=x[1], qo=out_q, clamp=clamp,
                          multipliers=multipliers)  # fmt: skip

    def _hard_swish_input(self, body: Any) -> Any:
        """x of TVM's HARD_SWISH import, x * clip(x + 3, 0, 6) / 6; None for other bodies."""
        if not (_is(body, "divide") and _number(body.args[1]) == 6.0):
            return None
        product = self._def(body.args[0])
        if not _is(product, "multiply"):
            return None
        x, relu6 = product.args[0], self._def(product.args[1])
        if not (_is(relu6, "clip") and [_number(a) for a in relu6.args[1:]] == [0.0, 6.0]):
            return None
        shifted = self._def(relu6.args[0])
        if not (_is(shifted, "add") and _number(shifted.args[1]) == 3.0):
            return None
        return x if shifted.args[0].same_as(x) else None

    def _bias(self, expr: Any) -> np.ndarray | None:
        deq = self._dequantized(expr)
        if deq is None:
            return None
        b = _const(self._def(deq[0]))
        if b is None or b.dtype != np.int32 or np.any(deq[1].zero_point != 0):
            return None
        return b.astype(np.int64)

    def _rewrite_linear(self, op: Any, bias: Any, out_q: QParams, clamp: tuple) -> Any:
        x = self._dequantized(op.args[0])
        w = self._weight(op.args[1])
        if x is None or w is None or not x[1].per_tensor:
            return None
        data, xq = x
        weight, wq, offset = w
        if _is(op, "matmul"):  # FULLY_CONNECTED: (..., K) x (K, N) as a 1x1 conv over the rows
            shape = [int(d) for d in data.ty.shape]  # rank 3 and more: keep_num_dims
            if len(shape) < 2 or weight.ndim != 2 or shape[-1] != weight.shape[0]:
                return None
            kind, batch = "FULLY_CONNECTED", int(np.prod(shape[:-1]))
            data = self.builder_.emit(relax.op.reshape(data, (1, 1, batch, weight.shape[0])))
            weight = weight.T.reshape(1, 1, weight.shape[1], weight.shape[0])
            attrs = dict(strides=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
        else:
            a = op.attrs
            if a.data_layout != "NHWC" or a.out_layout not in ("NHWC", None):
                return None
            groups = int(a.groups)
            if a.kernel_layout == "HWIO" and groups == 1:
                weight, kind = weight.transpose(0, 1, 3, 2), "CONV_2D"
            elif a.kernel_layout == "HWOI" and groups > 1 and weight.shape[3] == 1:
                kind = "DEPTHWISE_CONV_2D"
            else:
                return None
            attrs = dict(
                strides=tuple(int(s) for s in a.strides),
                padding=tuple(int(p) for p in a.padding),
                dilation=tuple(int(d) for d in a.dilation),
                groups=groups,
            )
        out = self._integer_conv(kind, data, xq, (weight, wq, offset), bias, attrs, out_q, clamp)
        if kind == "FULLY_CONNECTED":
            out = self.builder_.emit(relax.op.reshape(out, op.ty.shape))
        self.counts[kind] += 1
        return out

    def _integer_conv(
        self, kind: str, data, xq, weights: tuple, bias, attrs: dict, out_q: QParams, clamp: tuple
    ) -> Any:
        """pad(x, zx) -> conv2d int32 (HWOI) -> requantize with bias - zx*sum w folded into its
        constants (FloatRequantization for FULLY_CONNECTED and in FP32 mode, else
        ChannelRequantization; where that does not apply, a separate + bias and the generic
        requantization); depthwise convs pad inside their kernel. `kind`: the TFLite op.
        `weights`: (w8, their qparams, offset c) as `_weight` gives them; with c != 0 the
        accumulator gains c times the window sums of x (the same conv over weights of ones)."""

        bb = self.builder_
        weight, wq, offset = weights
        padding = attrs.pop("padding")
        if attrs["groups"] > 1:  # depthwise: the pad goes inside the kernel
            params = {
                "strides": attrs["strides"],
                "padding": padding,
                "dilation": attrs["dilation"],
                "pad_value": int(xq.zp),
            }

            def conv(w: np.ndarray) -> Any:
                return emit_depthwise(bb, data, relax.const(w, "int8"), params)
        else:
            top, left, bottom, right = padding
            if top or left or bottom or right:
                pad = [0, 0, top, bottom, left, right, 0, 0]
                data = bb.emit(relax.op.nn.pad(data, pad, pad_value=float(xq.zp)))

            def conv(w: np.ndarray) -> Any:
                return bb.emit(
                    relax.op.nn.conv2d(
                        data,
                        relax.const(w, "int8"),
                        **attrs,
                        data_layout="NHWC",
                        kernel_layout="HWOI",
                        out_dtype="int32",
                    )
                )

        acc = conv(weight)
        if offset:  # one output channel of window sums (every channel for a depthwise conv)
            kh, kw, channels_out, depth = weight.shape
            ones = np.ones((kh, kw, channels_out if attrs["groups"] > 1 else 1, depth), np.int8)
            sums = conv(ones)
            scaled = relax.op.multiply(sums, relax.const(offset, "int32"))
            acc = bb.emit(relax.op.add(acc, scaled))
        channels = weight.shape[2]
        w_sum = (weight.astype(np.int64) + offset).sum(axis=(0, 1, 3))
        total_bias = (bias if bias is not None else 0) - xq.zp * w_sum
        w_scale = np.broadcast_to(wq.scale.reshape(-1), (channels,))
        x_scale, o_scale = xq.scale.reshape(-1)[0], out_q.scale.reshape(-1)[0]
        if self.requantization == FP32:
            in_float = FloatRequantization.xnnpack(x_scale, w_scale, o_scale, total_bias)
        elif kind == "FULLY_CONNECTED":
            in_float = FloatRequantization.reference_fully_connected(
                x_scale, w_scale, o_scale, total_bias
            )
        else:
            in_float = None
        if in_float is not None:
            consts = [relax.const(a, str(a.dtype)) for a in in_float.arrays()]
            return self._emit(
                kernels.requantize_per_channel_float, acc, *consts, zp=out_q.zp, clamp=clamp
            )
        if _dtype(data) == "uint8":  # GetQuantizedConvolutionMultipler: s_x * s_w in float32
            product = (np.float32(x_scale) * w_scale.astype(np.float32)).astype(np.float64)
        else:  # PopulateConvolutionQuantizationParams' per-channel form: float64
            product = np.float64(x_scale) * w_scale.astype(np.float64)
        real = product / np.float64(out_q.scale)
        mult, shift = quantize_multiplier(real)
        fixed = ChannelRequantization.fit(mult, shift, out_q.zp, total_bias)
        if fixed is not None:
            # |acc + total_bias| <= 255 * sum |w| + |bias|: int8 inputs minus their zero point
            bound = 255 * np.abs(weight.astype(np.int64) + offset).sum(axis=(0, 1, 3))
            bound += np.abs(np.asarray(bias if bias is not None else 0, np.int64))
            unnudged = fixed.without_nudge(out_q.zp, clamp[0], clamp[1], bound)
            consts = [relax.const(a, str(a.dtype)) for a in (unnudged or fixed).arrays()]
            return self._emit(
                kernels.requantize_per_channel_fixed,
                acc,
                *consts,
                clamp=clamp,
                zp=out_q.zp,
                nudge=unnudged is None,
            )
        acc = bb.emit(relax.op.add(acc, relax.const(total_bias.astype(np.int32), "int32")))
        mult_c, shift_c = relax.const(mult, "int32"), relax.const(shift, "int32")
        return self._emit(
            kernels.requantize_per_channel,
            acc,
            mult_c,
            shift_c,
            zp=out_q.zp,
            clamp=clamp,
            left_shifts=bool((shift > 0).any()),
        )

    def _rewrite_avg_pool(self, call: Any) -> Any:
        """astype(avg_pool2d(astype(x, int32)), int8) -> rounded integer average pool."""
        out_dtype = str(call.attrs.dtype)
        pool = self._def(call.args[0])
        if out_dtype not in ("int8", "uint8") or not _is(pool, "nn.avg_pool2d"):
            return None
        widened = self._def(pool.args[0])
        if not _is(widened, "astype") or _dtype(widened.args[0]) != out_dtype:
            return None
        a = pool.attrs
        if a.layout != "NHWC" or bool(a.ceil_mode) or any(int(d) != 1 for d in a.dilation):
            return None
        self.counts["AVERAGE_POOL_2D"] += 1
        return self._emit(
            kernels.average_pool_nhwc,
            widened.args[0],
            pool=tuple(int(k) for k in a.pool_size),
            strides=tuple(int(s) for s in a.strides),
            padding=tuple(int(p) for p in a.padding),
        )


def _activation_range(a: float, b: float, q: QParams, lo: int, hi: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: zero_point + round(f / scale), clamped to the type."""
    scale = np.float32(q.scale.reshape(-1)[0])

    def quantize(f: float) -> int:
        v = np.float32(f) / scale
        return q.zp + int(np.sign(v) * np.floor(abs(v) + 0.5))

    return max(lo, quantize(a)), min(hi, quantize(b))


def integerize(mod: Any, requantization: str = FIXED_POINT) -> tuple[Any, dict[str, int]]:
    """Rewrite the covered QDQ chains of `mod`; returns it and a count per rewritten TFLite op.
    `requantization`: the convs' (`float_requantization`: FIXED_POINT or FP32)."""

    rewriter = _Integerizer(mod, requantization)
    out = relax.transform.DeadCodeElimination()(rewrite_relax_functions(rewriter))
    return out, dict(rewriter.counts)
