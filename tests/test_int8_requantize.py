"""The int8 convs' requantization epilogue on the host board: bias, input zero point, VNNI
shift correction and output zero point folded into per-channel int32 constants, so each element
costs one 32x32->64 multiply (vpmuldq, not the 3-uop vpmullq of a 64-bit product) and 32-bit
arithmetic; MetaSchedule still inlines it into the conv. Numerics: test_int8_fixed_point.py
(the formula) and test_int8_numerics.py (models vs TFLite's reference kernels)."""

from __future__ import annotations

import re

from int8_support import model_tasks

from edgetune.board import load_board
from edgetune.rules.show import explore


def test_epilogues_are_one_widening_multiply_inlined_into_the_convs():
    """Every conv of tiny_int8 (stem, depthwise, 1x1 with the residual ADD): sampled programs
    of its search space multiply with vpmuldq, and every sketch has one epilogue block: the
    requantization is inlined into its consumer (AutoInline). Without an ADD, no vpmullq at
    all (the ADD's last requantization of the sum of its two rescaled inputs may still use
    one: LLVM drops the sum's int32 truncation). The FULLY_CONNECTED requantizes in float64
    (as LiteRT's reference kernel), inlined too."""
    import tvm

    board = load_board("host")
    tasks = model_tasks(board, "tiny_int8")
    convs = [t for t in tasks if "conv2d" in t.name]
    fixed = [t for t in convs if "requantize_per_channel_fixed" in t.name]
    in_float = [t for t in convs if "requantize_per_channel_float" in t.name]
    assert len(convs) == 4 and len(fixed) == 3 and len(in_float) == 1
    # the VNNI correction (conv - 128 * sum w) is folded too; the residual ADD's prologue
    # unshifts the uint8 tensor the depthwise conv reads (u - 128): that subtract stays
    assert not any(re.search(r"conv2d\d*_subtract", t.name) for t in tasks)
    assert sum("cast4_subtract_cast5_quantized_add" in t.name for t in tasks) == 1
    for task in convs:
        view = explore(task.mod, board, samples=1)
        for sketch in view.sketches:
            root = sketch.get_sblock("root", func_name="main")
            names = [sketch.get(b).name_hint for b in sketch.get_child_blocks(root)]
            kernel = ("pad_temp", "conv2d_nhwc", "group_conv2d_nhwc")
            assert len([n for n in names if not n.startswith(kernel)]) == 1, names
        for sample in view.samples:
            asm = tvm.compile(sample.mod, target=board.target()).mod.inspect_source("asm")
            if task in in_float:
                assert "vmulpd" in asm or "vmulsd" in asm, task.name
                continue
            assert "vpmuldq" in asm, task.name
            assert "quantized_add" in task.name or "vpmullq" not in asm, task.name


def test_depthwise_convs_read_uint8_and_multiply_on_word_dot_products():
    """On a VNNI host the int8 depthwise conv reads the activations shifted to uint8 (one
    operand zero-extended), so LLVM multiplies on word dot products (vpdpwssd, or vpmaddwd +
    vpaddd), not on vpmulld (2 uops, 10 cycles); the correction 128 * sum(w) is folded into the
    requantization (no subtract task)."""
    import tvm

    board = load_board("host")
    (task,) = [t for t in model_tasks(board, "tiny_int8") if "depthwise" in t.name]
    assert '"uint8"), param_0: T.Buffer' in task.mod.script()  # data uint8, weights int8
    for sample in explore(task.mod, board, samples=2).samples:
        asm = tvm.compile(sample.mod, target=board.target()).mod.inspect_source("asm")
        assert ("vpdpwssd" in asm or "vpmaddwd" in asm) and "vpmulld" not in asm
