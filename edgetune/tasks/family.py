"""Task families: tasks whose anchor blocks have the same loop structure, by static analysis.

A family key names the anchor op (block name without numbers), its sliding window (extents of
the reduction axes that move together with an output axis in the data read; 3x3x1 is a
depthwise 3x3), the stride of that window and the input dtypes: `conv2d_nhwc-k1x1-s1-float32`,
`group_conv2d_nhwc-k3x3x1-s2-float32`, `matmul-float32`. Members of a family share a cost model
during `--search family` (their schedules' features mean the same thing).
"""

from __future__ import annotations

import re
from typing import Any


def family_of(mod: Any) -> str:
    """The family key of a task's module (see the module docstring)."""
    from ..tvm_api import s_tir

    block = s_tir.analysis.find_anchor_sblock(mod)
    if block is None:
        return "elementwise"
    op = re.sub(r"(?<=[a-z])\d+(?=_|$)", "", str(block.name_hint))  # lv148_red -> lv_red
    dtypes = "+".join(dict.fromkeys(str(r.source.dtype) for r in block.reads)) or "none"
    window, stride = _window(block)
    parts = [op]
    if window:
        parts += ["k" + "x".join(str(e) for e in window), f"s{stride}"]
    return "-".join([*parts, dtypes])


def _window(block: Any) -> tuple[list[int], int]:
    """(extents of the sliding-window reduction axes, stride) from the block's first read.

    A data index that uses exactly one reduction axis and one output axis slides a window; its
    stride is the output axis' coefficient in the index (the read buffer's extent cannot say:
    a 512-wide window at stride 160 over 1760 values has 8 outputs, as at any stride from 157
    to 178).
    """
    from ..tvm_api import tirx

    spatial = {iv.var: int(iv.dom.extent) for iv in block.iter_vars if iv.iter_type == 0}
    reduce = {iv.var: int(iv.dom.extent) for iv in block.iter_vars if iv.iter_type == 2}
    if not reduce or not block.reads:
        return [], 1
    data = block.reads[0]
    window, stride = [], 1
    for rng, extent in zip(data.region, data.source.shape):
        used = tirx.analysis.undefined_vars(rng.min, [])
        red = [reduce[v] for v in used if v in reduce]
        out = [spatial[v] for v in used if v in spatial]
        if len(red) != 1 or len(out) != 1:
            continue
        window.append(red[0])
        if out[0] > 1:  # (a single output has no stride to speak of)
            (axis,) = [v for v in used if v in spatial]
            step = _coefficient(rng.min, axis)
            if step is None:  # an index not linear in it: the extent's estimate
                step = round((int(extent) - red[0]) / (out[0] - 1))
            stride = max(stride, step)
    return window, stride


def _coefficient(expr: Any, var: Any) -> int | None:
    """The integer coefficient of `var` in a sum of products of `expr`; None if not linear."""
    from ..tvm_api import tirx

    if isinstance(expr, tirx.Var):
        return 1 if expr.same_as(var) else 0
    if isinstance(expr, tirx.IntImm):
        return 0
    if isinstance(expr, tirx.Cast):
        return _coefficient(expr.value, var)
    if isinstance(expr, (tirx.Add, tirx.Sub)):
        a, b = _coefficient(expr.a, var), _coefficient(expr.b, var)
        if a is None or b is None:
            return None
        return a + b if isinstance(expr, tirx.Add) else a - b
    if isinstance(expr, tirx.Mul):
        for term, factor in ((expr.a, expr.b), (expr.b, expr.a)):
            if isinstance(factor, tirx.IntImm):
                inner = _coefficient(term, var)
                return None if inner is None else inner * int(factor.value)
    return None
