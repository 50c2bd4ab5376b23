"""The int8 convs' requantization epilogue on the host board: bias, input zero point, VNNI
shift correction and output zero point folded into per-channel constants, computed exactly in
float64 on AVX-512 hosts (two conversions and two multiply-adds per 8 outputs), else as one
32x32->64 multiply (vpmuldq, not the 3-uop vpmullq of a 64-bit product) with no shift
arithmetic; MetaSchedule still inlines it into the conv. Numerics: test_int8_fixed_point.py
(the formulas) and test_int8_numerics.py (models vs TFLite's reference kernels)."""

from __future__ import annotations

import pytest
from int8_support import model_tasks

from edgetune.board import load_board
from edgetune.quant import float_requantize
from edgetune.rules.show import explore


@pytest.mark.parametrize("form", ["float64", "folded"])
def test_epilogues_are_inlined_into_the_convs_in_the_targets_form(form, monkeypatch):
    """Every conv of tiny_int8 (stem, depthwise, 1x1 with the residual ADD, FC): every sketch
    of its search space has one epilogue block (AutoInline inlined the requantization into its
    consumer), and sampled programs compute it in float64 (this AVX-512 host) or, where the
    target does not want float64, with vpmuldq. No vpmullq outside an ADD (the ADD's last
    requantization of the sum of its two rescaled inputs may still use one: LLVM drops the
    sum's int32 truncation)."""
    import tvm

    board = load_board("host")
    assert float_requantize.wants_float64(board.target())
    if form == "folded":
        monkeypatch.setattr(float_requantize, "wants_float64", lambda target: False)
    tasks = model_tasks(board, "tiny_int8")
    convs = [t for t in tasks if "conv2d" in t.name]
    assert len(convs) == 4 and all(f"requantize_per_channel_{form}" in t.name for t in convs)
    assert not any("subtract" in t.name for t in tasks)  # the VNNI correction is folded too
    for task in convs:
        view = explore(task.mod, board, samples=1)
        for sketch in view.sketches:
            root = sketch.get_sblock("root", func_name="main")
            names = [sketch.get(b).name_hint for b in sketch.get_child_blocks(root)]
            kernel = ("pad_temp", "conv2d_nhwc", "group_conv2d_nhwc")
            assert len([n for n in names if not n.startswith(kernel)]) == 1, names
        for sample in view.samples:
            asm = tvm.compile(sample.mod, target=board.target()).mod.inspect_source("asm")
            if form == "float64":
                assert "vcvtdq2pd" in asm and "vfmadd" in asm, task.name
            else:
                assert "vpmuldq" in asm, task.name
            assert "quantized_add" in task.name or "vpmullq" not in asm, task.name
