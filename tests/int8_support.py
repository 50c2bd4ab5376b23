"""Shared by the tensorize tests: the integer 1x1 conv task of probe_block_int8, its first
tensorized design, and realistic arguments for it."""

from __future__ import annotations

import numpy as np

from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR
from edgetune.quant.fixed_point import ChannelRequantization
from edgetune.quant.float_requantization import FIXED_POINT
from edgetune.rules.rule_set import get_rule_set
from edgetune.tasks import for_model


def model_tasks(board, model_name: str, requantization: str = FIXED_POINT):
    """The tuning tasks of a shipped model on `board`."""
    model = load_model(MODELS_DIR / f"{model_name}.tflite", requantization=requantization)
    return for_model(model, board).tasks


def pointwise_conv_task(board, requantization: str = FIXED_POINT):
    """The 1x1 conv (16 -> 16 channels) with the residual ADD fused into its epilogue."""
    tasks = model_tasks(board, "probe_block_int8", requantization)
    (task,) = [t for t in tasks if t.anchor == "conv2d_nhwc" and "quantized_add" in t.name]
    assert task.path == "int8"
    return task


def run_untuned(model, inputs):
    """The model's output from an untuned host build (Relax VM)."""
    import tvm
    from tvm import relax

    from edgetune.board import load_board
    from edgetune.tasks import lower

    target = load_board("host").target()
    exe = tvm.compile(lower(model.mod, target), target)
    vm = relax.VirtualMachine(exe, tvm.cpu())
    return vm["main"](*[tvm.runtime.tensor(x) for x in inputs]).numpy()


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


def tensorized_schedule(board, task, seeds: int = 32):
    """A design of the task's space (the board's own rule set) whose conv block is tensorized
    and which passes every postprocessor. The designs' tile sizes are sampled, and the
    postprocessors rightly reject some samples (e.g. ThreadSplit, a split that leaves a thread
    idle), so the space is drawn with seeds 0, 1, ... until one passes."""
    from tvm.s_tir import meta_schedule as ms

    tensorized = 0
    for seed in range(seeds):
        ctx = ms.TuneContext(
            mod=task.mod,
            target=board.target(),
            space_generator=get_rule_set(board.rule_set).space(board),
            rand_state=seed,
        )
        for design in ctx.generate_design_space():
            if "tensorize" not in str(design.trace):
                continue
            tensorized += 1
            sch = design.copy()
            if all(p.apply(sch) for p in ctx.space_generator.postprocs):
                return sch
    raise AssertionError(f"no tensorized design passes the postprocessors ({tensorized} drawn)")


def tensorized_records(board, folder, run_secs: float):
    """A records folder of probe_block_int8 holding one record: its pointwise conv's first
    tensorized design, measured at `run_secs`; returns the model, the task and the store."""
    from edgetune.records import RecordStore
    from edgetune.tvm_api import ms

    model, task = load_model(MODELS_DIR / "probe_block_int8.tflite"), pointwise_conv_task(board)
    store = RecordStore(folder, model.info, board)
    db, sch = store.database(), tensorized_schedule(board, task)
    args_info = ms.arg_info.ArgInfo.from_prim_func(task.mod["main"])
    work = db.commit_workload(task.mod)
    db.commit_tuning_record(
        ms.database.TuningRecord(sch.trace, work, [run_secs], board.target(), args_info)
    )
    return model, task, store


def realistic_args(func, seed: int = 0) -> list[np.ndarray]:
    """Arguments for an integer conv task: 8-bit tensors over their full range, and the
    requantization's constants: the fixed-point ones (its four int32 vectors, in order)
    for a multiplier in [2^30, 2^31), a shift in [-8, -2] (tiny multipliers would make every
    output the zero point and hide wrong sums), a bias in [-1000, 1000] and a zero point; or
    the fp32 ones (int32 bias, float32 scale in [2^-9, 1))."""
    rng = np.random.default_rng(seed)
    params = [([int(d) for d in p.shape], str(p.dtype)) for p in func.params]
    vectors = [i for i, (s, d) in enumerate(params) if len(s) == 1 and d != "int8"]
    first = vectors[0]
    (channels,), dtype = params[first]
    if params[first + 1][1] == "float32":  # fp32: bias, scale
        bias = rng.integers(-1000, 1000, channels, endpoint=True).astype(np.int32)
        constants = {first: bias, first + 1: np.exp2(rng.uniform(-9, 0, channels), dtype="f4")}
    else:
        fixed = ChannelRequantization.fit(
            rng.integers(1 << 30, (1 << 31) - 1, channels, endpoint=True),
            rng.integers(-8, -2, channels, endpoint=True),
            int(rng.integers(-128, 127, endpoint=True)),
            rng.integers(-1000, 1000, channels, endpoint=True),
        )
        constants = dict(enumerate(fixed.arrays(), start=first))
    args = []
    for i, (shape, dtype) in enumerate(params):
        if i in constants:
            args.append(constants[i])
            continue
        info = np.iinfo(dtype)
        lo, hi = (info.min, info.max) if "8" in dtype else (-1000, 1000)
        args.append(rng.integers(lo, hi, size=shape, endpoint=True).astype(dtype))
    return args


def _srdhm(a: int, b: int) -> int:
    """SaturatingRoundingDoublingHighMul, as in gemmlowp/TFLite (C truncating division)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    q = ab + nudge
    return abs(q) // (1 << 31) * (1 if q >= 0 else -1)


def _rdbpot(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def tflite_mbqm(x: int, m: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier, TFLite's reference (literal transcription)."""
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbpot(_srdhm(x * (1 << left), m), right)


def built_in_fresh_process_matches_litert(path, records, model, board, out) -> None:
    """`edgetune build` in a new process (which must register the intrinsics the records name
    itself) applies one tuned task; the library runs within 1 LSB of LiteRT."""
    import subprocess
    import sys

    from edgetune.frontend.tflite_import import random_inputs
    from edgetune.oracle import LiteRTModel
    from edgetune.runtime import load_artifact, read_artifact_meta

    build = [sys.executable, "-m", "edgetune", "build", str(path), "--records", str(records)]
    done = subprocess.run([*build, "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert read_artifact_meta(out).tuned_tasks == 1
    inputs = random_inputs(model.info, seed=11)
    (ours,) = load_artifact(out, board.hardware.cores)(inputs)
    (reference,) = LiteRTModel(path, threads=1)(inputs)
    assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 1
