"""Tensorize hooks reached from a TFLite model: the integer 1x1 conv of probe_block_int8, with
edgetune's tensorize rules in front of MetaSchedule's defaults, uses VNNI on the host and the
NEON widening multiply-accumulate on the Cortex-A53 (cross-compiled, assembly inspected)."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.board import load_board
from edgetune.compile import lower_for_tuning
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.rules.tensorize import int8_intrinsic, tensorize_postprocs, tensorize_rules
from edgetune.tasks import extract_tasks


def _pointwise_conv_task(board):
    model = load_model(MODELS_DIR / "probe_block_int8.tflite")
    target = board.target()
    tasks = extract_tasks(lower_for_tuning(model.mod, target), target)
    # the 1x1 conv (16 -> 16 channels) with the residual ADD fused into its epilogue
    (task,) = [t for t in tasks if t.anchor == "conv2d_nhwc" and "quantized_add" in t.name]
    assert task.path == "int8"
    return task


def _tensorized_schedule(board, task):
    """The first design of the task's space whose conv block is tensorized, postprocessed."""
    from tvm.s_tir import meta_schedule as ms

    space = ms.space_generator.PostOrderApply(
        sch_rules=tensorize_rules(board) + list(ms.ScheduleRule.create("llvm")),
        postprocs=list(ms.Postproc.create("llvm")) + tensorize_postprocs(board),
        mutator_probs={},
    )
    ctx = ms.TuneContext(mod=task.mod, target=board.target(), space_generator=space)
    designs = [s for s in ctx.generate_design_space() if "tensorize" in str(s.trace)]
    assert designs, "no tensorized design in the space"
    sch = designs[0].copy()
    assert all(p.apply(sch) for p in ctx.space_generator.postprocs)
    return sch


@pytest.mark.parametrize(
    ("board_name", "instructions"),
    [("host", ("vpdpbusd",)), ("rpi3", ("smull", "saddlp"))],
)
def test_int8_conv_is_tensorized(board_name, instructions):
    import tvm

    board = load_board(board_name)
    assert int8_intrinsic(board) is not None
    task = _pointwise_conv_task(board)
    target = board.target()
    lib = tvm.compile(_tensorized_schedule(board, task).mod, target=target)
    asm = lib.mod.inspect_source("asm")
    for ins in instructions:
        assert ins in asm, f"{ins} missing from the {board_name} kernel"
    if board.is_host:  # the tensorized kernel computes what the untuned one does
        _assert_same_result(task.mod, lib, target)


def _assert_same_result(untuned_mod, lib, target) -> None:
    import tvm

    func = untuned_mod["main"]
    rng = np.random.default_rng(0)
    args = []
    for p in func.params:
        shape = [int(d) for d in p.shape]
        dtype = str(p.dtype)
        # 8-bit tensors over their full range; int32 ones (bias, multiplier, shift) small
        lo, hi = (np.iinfo(dtype).min, np.iinfo(dtype).max) if "8" in dtype else (-8, 8)
        args.append(rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype))
    reference = tvm.compile(untuned_mod, target=target)
    a = [tvm.runtime.tensor(x) for x in args]
    b = [tvm.runtime.tensor(x) for x in args]
    reference(*a)
    lib(*b)
    assert np.array_equal(a[-1].numpy(), b[-1].numpy())
