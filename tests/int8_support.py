"""Shared by the tensorize tests: the integer 1x1 conv task of probe_block_int8, its first
tensorized design, and realistic arguments for it."""

from __future__ import annotations

import numpy as np

from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.rules.rule_set import get_rule_set
from edgetune.tasks import for_model


def model_tasks(board, model_name: str):
    """The tuning tasks of a shipped model on `board`."""
    model = load_model(MODELS_DIR / f"{model_name}.tflite")
    return for_model(model, board).tasks


def pointwise_conv_task(board):
    """The 1x1 conv (16 -> 16 channels) with the residual ADD fused into its epilogue."""
    tasks = model_tasks(board, "probe_block_int8")
    (task,) = [t for t in tasks if t.anchor == "conv2d_nhwc" and "quantized_add" in t.name]
    assert task.path == "int8"
    return task


def packed_conv_task(board, model_name: str, lanes: int):
    """The cheapest conv task (over more than one pixel: a lone pixel of a 1280-input FC
    saturates under random arguments) of a shipped model whose weights are packed for
    `lanes`."""
    tasks = model_tasks(board, model_name)

    def packed_lanes(task) -> int | None:
        shapes = [[int(d) for d in p.shape] for p in task.mod["main"].params]
        out = shapes[-1]
        pixels = out[1] * out[2] if len(out) == 4 else 1
        return next((s[4] for s in shapes if len(s) == 6 and pixels > 1), None)

    return min((t for t in tasks if packed_lanes(t) == lanes), key=lambda t: t.flops)


def tensorized_schedule(board, task):
    """The first design of the task's space (the board's own rule set) whose conv block is
    tensorized, postprocessed."""
    from tvm.s_tir import meta_schedule as ms

    ctx = ms.TuneContext(
        mod=task.mod,
        target=board.target(),
        space_generator=get_rule_set(board.rule_set).space(board),
    )
    designs = [s for s in ctx.generate_design_space() if "tensorize" in str(s.trace)]
    assert designs, "no tensorized design in the space"
    sch = designs[0].copy()
    assert all(p.apply(sch) for p in ctx.space_generator.postprocs)
    return sch


def realistic_args(func, seed: int = 0) -> list[np.ndarray]:
    """Arguments for an integer conv task: 8-bit tensors over their full range, int32 vectors
    small except the last two, the requantization's multiplier in [2^30, 2^31) and shift in
    [-8, 0] (tiny multipliers would make every output the zero point and hide wrong sums)."""
    rng = np.random.default_rng(seed)
    vectors = [
        i for i, p in enumerate(func.params) if len(p.shape) == 1 and str(p.dtype) == "int32"
    ]
    multiplier, shift = vectors[-2:]
    args = []
    for i, p in enumerate(func.params):
        shape, dtype = [int(d) for d in p.shape], str(p.dtype)
        if i == multiplier:
            lo, hi = 1 << 30, (1 << 31) - 1
        elif i == shift:
            lo, hi = -8, 0
        elif "8" in dtype:
            lo, hi = np.iinfo(dtype).min, np.iinfo(dtype).max
        else:
            lo, hi = -1000, 1000
        args.append(rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype))
    return args
