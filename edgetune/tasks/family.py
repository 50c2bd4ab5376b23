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
    stride follows from the read buffer's extent: (in - window) / (out - 1).
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
        if out[0] > 1:
            stride = max(stride, round((int(extent) - red[0]) / (out[0] - 1)))
    return window, stride
