"""Tensorize hooks reached from a TFLite model: the integer 1x1 conv of probe_block_int8, in the
board's own search space, uses VNNI on the host and the NEON widening multiply-accumulate on the
Cortex-A53 (cross-compiled, assembly inspected); on the host the tensorized kernel computes what
the untuned one does (the A53 kernel is checked on the emulated board in test_farm_qemu.py)."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from int8_support import (
    built_in_fresh_process_matches_litert,
    packed_conv_task,
    pointwise_conv_task,
    realistic_args,
    tensorized_schedule,
)

from edgetune.board import load_board
from edgetune.rules.tensorize import int8_intrinsics


@pytest.mark.parametrize(
    ("board_name", "instructions"),
    [("host", ("vpdpbusd",)), ("rpi3", ("smull", "saddlp"))],
)
def test_int8_conv_is_tensorized(board_name, instructions):
    import tvm

    board = load_board(board_name)
    assert int8_intrinsics(board)
    task = pointwise_conv_task(board)
    target = board.target()
    lib = tvm.compile(tensorized_schedule(board, task).mod, target=target)
    asm = lib.mod.inspect_source("asm")
    for ins in instructions:
        assert ins in asm, f"{ins} missing from the {board_name} kernel"
    if board.is_host:  # the tensorized kernel computes what the untuned one does
        _assert_same_result(task.mod, lib, target)


def test_output_channels_not_tiling_by_16_use_vnni_on_ymm():
    """MobileNetV2's convs with 24 (or 1000) output channels get weights packed by 8 and the
    8-lane VNNI form (vpdpbusd on ymm registers), and compute what the untuned kernel does."""
    import tvm

    board = load_board("host")
    task = packed_conv_task(board, "mobilenet_v2_int8", lanes=8)
    target = board.target()
    lib = tvm.compile(tensorized_schedule(board, task).mod, target=target)
    asm = lib.mod.inspect_source("asm")
    assert re.search(r"vpdpbusd\t[^\n]*%ymm", asm), "no 8-lane vpdpbusd in the kernel"
    _assert_same_result(task.mod, lib, target)


def _assert_same_result(untuned_mod, lib, target) -> None:
    import tvm

    args = realistic_args(untuned_mod["main"])
    reference = tvm.compile(untuned_mod, target=target)
    a = [tvm.runtime.tensor(x) for x in args]
    b = [tvm.runtime.tensor(x) for x in args]
    reference(*a)
    lib(*b)
    assert np.array_equal(a[-1].numpy(), b[-1].numpy())
    assert len(np.unique(a[-1].numpy())) > 50  # not all saturated or at the zero point


def test_model_built_from_a_tensorized_record_matches_litert(tmp_path):
    """The whole probe_block_int8 model, built by `edgetune build` (a fresh process, which must
    register the intrinsic to read the record back) with the tensorized conv as its tuned
    schedule, gives LiteRT's outputs within 1 LSB: the packed weights reach the built model."""

    from tvm.s_tir import meta_schedule as ms

    from edgetune.frontend import load_model
    from edgetune.paths import MODELS_DIR
    from edgetune.records import RecordStore

    board = load_board("host")
    path = MODELS_DIR / "probe_block_int8.tflite"
    model = load_model(path)
    task = pointwise_conv_task(board)
    store = RecordStore(tmp_path / "recs", model.info, board)
    db = store.database()
    sch = tensorized_schedule(board, task)
    db.commit_tuning_record(
        ms.database.TuningRecord(
            sch.trace,
            db.commit_workload(task.mod),
            [1e-4],
            board.target(),
            ms.arg_info.ArgInfo.from_prim_func(task.mod["main"]),
        )
    )
    built_in_fresh_process_matches_litert(path, store.path, model, board, tmp_path / "probe.so")


def test_intrinsics_register_without_every_targets_package():
    """edgetune's intrinsics (VNNI forms, TVM's NEON dot product; TVM's x86 ones, which
    MetaSchedule's own rules name) register in a fresh process without parsing every target's
    (CUDA's take 10-15 s), also when MetaSchedule's TuneContext imports the package; a GPU
    module still loads when asked for."""
    code = (
        "import sys\n"
        "from edgetune.quant.intrinsics import register_intrinsics\n"
        "from edgetune.tvm_api import ms, s_tir\n"
        "register_intrinsics()\n"
        "ms.TuneContext(mod=None)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('tvm.s_tir.tensor_intrin.'))\n"
        "names = ['edgetune_dot_16x4_u8i8i32_vnni', 'edgetune_dot_8x4_u8i8i32_vnni',\n"
        "         'dot_4x4_i8i8s32_neon']\n"
        "print(loaded, [s_tir.TensorIntrin.get(n) is not None for n in names])\n"
        "import tvm.s_tir.tensor_intrin.cuda\n"
        "print(s_tir.TensorIntrin.get('mma_f16f16f32_trans_b') is not None)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == (
        "['tvm.s_tir.tensor_intrin.arm_cpu', 'tvm.s_tir.tensor_intrin.dot_product_common',"
        " 'tvm.s_tir.tensor_intrin.x86'] [True, True, True]"
    )
    assert out[1] == "True"
