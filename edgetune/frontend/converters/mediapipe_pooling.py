"""MediaPipe's MaxPoolingWithArgmax2D and MaxUnpooling2D (segmentation nets' encoder/decoder
pair), as TE computes and Relax ops.

Both read their options as TFLite's raw `TfLitePoolParams` C struct (int32 padding (1 SAME,
2 VALID), stride_width, stride_height, filter_width, filter_height, activation, then computed
values the kernels ignore). The argmax index is local to the pooling window, row-major
(ky * filter_width + kx, padded positions counted), stored as float32 plus 0.1
(mediapipe/util/tflite/operations/max_pool_argmax.cc, max_unpooling.cc).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SAME, VALID = 1, 2
# TfLiteFusedActivation -> the clamp TFLite's CalculateActivationRange applies (others: none)
ACTIVATION_RANGES = {1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}
LOWEST = float(np.finfo(np.float32).min)  # the kernel's starting max


def _c_padding(stride: int, in_size: int, filter_size: int, out_size: int) -> int:
    """TFLite's ComputePadding (dilation 1): half the total padding, C division, at least 0."""
    total = (out_size - 1) * stride + filter_size - in_size
    return max(0, int(total / 2))


@dataclass(frozen=True)
class PoolParams:
    """A MediaPipe pooling op's options (`TfLitePoolParams`)."""

    padding: int
    stride_w: int
    stride_h: int
    filter_w: int
    filter_h: int
    activation: int

    @classmethod
    def from_raw(cls, raw: bytes, op_name: str) -> PoolParams:
        """Decoded from the op's custom options; ValueError (one line) when they are not a
        pooling struct edgetune can compute."""
        if len(raw) < 24:
            raise ValueError(f"{op_name}: custom options of {len(raw)} bytes, not TfLitePoolParams")
        params = cls(*(int(v) for v in np.frombuffer(raw[:24], "<i4")))
        if params.padding not in (SAME, VALID):
            raise ValueError(f"{op_name}: padding {params.padding} is neither SAME nor VALID")
        if min(params.stride_w, params.stride_h, params.filter_w, params.filter_h) < 1:
            raise ValueError(f"{op_name}: strides and filter sizes must be at least 1")
        return params

    def pooled_size(self, in_h: int, in_w: int) -> tuple[int, int]:
        """MaxPoolingWithArgmax2D's output height and width (TensorFlow's windowed size)."""
        if self.padding == SAME:
            return -(-in_h // self.stride_h), -(-in_w // self.stride_w)
        return (
            (in_h - self.filter_h + self.stride_h) // self.stride_h,
            (in_w - self.filter_w + self.stride_w) // self.stride_w,
        )

    def window_origin_shift(self, big_hw: tuple[int, int], small_hw: tuple[int, int]) -> tuple:
        """(pad_h, pad_w): how far window (y, x) of the small (pooled) map starts before
        y * stride_h, x * stride_w in the big map, as both kernels compute it."""
        return (
            _c_padding(self.stride_h, big_hw[0], self.filter_h, small_hw[0]),
            _c_padding(self.stride_w, big_hw[1], self.filter_w, small_hw[1]),
        )

    def unpooled_size(self, in_h: int, in_w: int) -> tuple[int, int]:
        """MaxUnpooling2D's output height and width: the input's times the filter's."""
        return in_h * self.filter_h, in_w * self.filter_w


def max_pool_argmax_te(data: Any, p: PoolParams) -> list[Any]:
    """(values, indices) of MaxPoolingWithArgmax2D: each window's max over the positions inside
    the input (never below float32's lowest, the kernel's start) and the window index of its
    first occurrence in row-major order (strict `>` in the kernel: ties keep the earliest; a
    window with nothing above lowest gives index 0), plus 0.1, as float32."""
    from tvm import te

    from ...tvm_api import tirx as tir

    n, h, w, c = (int(d) for d in data.shape)
    out_h, out_w = p.pooled_size(h, w)
    pad_h, pad_w = p.window_origin_shift((h, w), (out_h, out_w))
    f32, lowest, none = "float32", tir.const(LOWEST, "float32"), p.filter_h * p.filter_w

    def read(b: Any, oy: Any, ox: Any, ch: Any, ky: Any, kx: Any) -> Any:
        y, x = oy * p.stride_h - pad_h + ky, ox * p.stride_w - pad_w + kx
        inside = tir.all(y >= 0, y < h, x >= 0, x < w)
        value = data[b, tir.max(tir.min(y, h - 1), 0), tir.max(tir.min(x, w - 1), 0), ch]
        return tir.if_then_else(inside, value, lowest)

    def window() -> tuple[Any, Any]:
        return te.reduce_axis((0, p.filter_h), "ky"), te.reduce_axis((0, p.filter_w), "kx")

    def max_of(b: Any, oy: Any, ox: Any, ch: Any) -> Any:
        ky, kx = window()
        return te.max(read(b, oy, ox, ch, ky, kx), axis=[ky, kx])

    top = te.compute((n, out_h, out_w, c), max_of, name="window_max")

    def first_of(b: Any, oy: Any, ox: Any, ch: Any) -> Any:
        ky, kx = window()
        m = top[b, oy, ox, ch]
        hit = tir.all(read(b, oy, ox, ch, ky, kx) == m, m > lowest)
        return te.min(tir.if_then_else(hit, ky * p.filter_w + kx, none), axis=[ky, kx])

    first = te.compute((n, out_h, out_w, c), first_of, name="window_argmax")
    low, high = ACTIVATION_RANGES.get(p.activation, (None, None))

    def value(*i: Any) -> Any:
        v = top(*i)
        v = v if low is None else tir.max(v, tir.const(low, f32))
        return v if high is None else tir.min(v, tir.const(high, f32))

    def index(*i: Any) -> Any:
        k = first(*i)
        return tir.if_then_else(k == none, 0, k).astype(f32) + tir.const(0.1, f32)

    return [
        te.compute(top.shape, value, name="pooled"),
        te.compute(top.shape, index, name="argmax"),
    ]


def unpool_targets_te(indices: Any, p: PoolParams, out_hw: tuple[int, int]) -> Any:
    """MaxUnpooling2D's destination of every input element, as a flat index into the output
    [N, out_h, out_w, C], or one past its end (a slot thrown away) when the decoded position is
    outside it (the kernel skips those writes). The index is decoded as C does: float -> int
    truncation, then `/` and `%` by filter_width (both truncating)."""
    from tvm import te

    from ...tvm_api import tirx as tir

    n, h, w, c = (int(d) for d in indices.shape)
    out_h, out_w = out_hw
    pad_h, pad_w = p.window_origin_shift(out_hw, (h, w))
    outside = n * out_h * out_w * c

    def target(b: Any, iy: Any, ix: Any, ch: Any) -> Any:
        k = indices[b, iy, ix, ch].astype("int32")
        y = iy * p.stride_h - pad_h + tir.truncdiv(k, p.filter_w)
        x = ix * p.stride_w - pad_w + tir.truncmod(k, p.filter_w)
        inside = tir.all(y >= 0, y < out_h, x >= 0, x < out_w)
        flat = ((b * out_h + y) * out_w + x) * c + ch
        return tir.if_then_else(inside, flat, outside).astype("int64")

    return te.compute((n, h, w, c), target, name="unpool_target")
