"""The int8 convs' requantization epilogue on the host board: bias, input zero point, VNNI
shift correction and output zero point folded into per-channel constants, so each element costs
one 32x32->64 multiply (vpmuldq, not the 3-uop vpmullq of a 64-bit product) and no shift
arithmetic; MetaSchedule still inlines it into the conv. Numerics: test_int8_fixed_point.py
(the formula) and test_int8_numerics.py (models vs TFLite's reference kernels)."""

from __future__ import annotations

from int8_support import model_tasks

from edgetune.board import load_board
from edgetune.rules.show import explore


def test_depthwise_epilogue_is_one_widening_multiply_inlined_into_the_conv():
    import tvm

    board = load_board("host")
    tasks = model_tasks(board, "tiny_int8")
    convs = [t for t in tasks if "conv2d" in t.name]
    assert len(convs) == 4 and all("requantize_per_channel_folded" in t.name for t in convs)
    assert not any("subtract" in t.name for t in tasks)  # the VNNI correction is folded too
    (depthwise,) = [t for t in convs if "depthwise" in t.name]
    view = explore(depthwise.mod, board, samples=2)
    for sketch in view.sketches:  # AutoInline: no requantize block of its own
        assert '"requantize"' not in sketch.mod.script()
    for sample in view.samples:
        asm = tvm.compile(sample.mod, target=board.target()).mod.inspect_source("asm")
        assert "vpmuldq" in asm and "vpmullq" not in asm
