"""Kernels sharing a conv but not its epilogue (`tasks.lower.epilogues_apart`) are tasks of their
own: each is tuned, and the build applies every kernel's own record (MediaPipe's
face_detection_full_range_sparse had four kernels built untuned, 48-59x their estimates)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.oracle import LiteRTModel
from edgetune.records import RecordStore, workload_hash
from edgetune.records.store import register_intrinsics_named_in
from edgetune.rules.show import loop_tree
from edgetune.runtime import load_executable
from edgetune.search import tune_model
from edgetune.tasks import MODULE_EQUALITY, for_model

DATA = Path(__file__).parent / "data"
RELU = (3, "int8", 1)  # Conv2DOptions.fused_activation_function = RELU


def two_convs(path):
    """x (1, 8, 8, 16): a = relu(conv1x1(x)); c = relu(conv1x1'(x) + x), the two convs of equal
    shapes (other weights), so their anchor blocks are equal and their epilogues differ."""
    rng = np.random.default_rng(0)
    w1, w2 = (rng.standard_normal((16, 1, 1, 16)).astype(np.float32) / 4 for _ in range(2))
    bias = rng.standard_normal(16).astype(np.float32)
    tensors = [
        Tensor("x", (1, 8, 8, 16)),  # 0
        Tensor("w1", w1.shape, data=w1),  # 1
        Tensor("w2", w2.shape, data=w2),  # 2
        Tensor("bias", (16,), data=bias),  # 3
        Tensor("a", (1, 8, 8, 16)),  # 4
        Tensor("b", (1, 8, 8, 16)),  # 5
        Tensor("c", (1, 8, 8, 16)),  # 6
    ]
    stride = [(1, "int32", 1), (2, "int32", 1)]
    ops = [
        Op("CONV_2D", [0, 1, 3], [4], "Conv2DOptions", [(0, "int8", 1), *stride, RELU]),
        Op("CONV_2D", [0, 2, 3], [5], "Conv2DOptions", [(0, "int8", 1), *stride]),
        Op("ADD", [5, 0], [6], "AddOptions", [(0, "int8", 1)]),
    ]
    return write(path, tensors, ops, [0], [4, 6])


def test_a_conv_with_another_epilogue_is_tuned_and_built_with_its_own_record(tmp_path):
    path = two_convs(tmp_path / "two.tflite")
    model = load_model(path)
    board = load_board("host")
    tasks = for_model(model, board).tasks
    assert len(tasks) == 2 and {t.anchor for t in tasks} == {"conv2d_nhwc"}
    assert len({workload_hash(t.mod) for t in tasks}) == 2, [t.name for t in tasks]

    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, 8, seed=0, final_top=0)
    built = build_model(model, board, store)
    assert built.unapplied == [] and built.tuned == built.total == 2
    x = np.random.default_rng(1).standard_normal((1, 8, 8, 16)).astype(np.float32)
    got = load_executable(built.exe, 2)([x])
    want = LiteRTModel(path, 2, builtin_kernels=True)([x])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_records_of_the_shared_task_still_schedule_the_split_off_kernel(tmp_path):
    """Records tuned before the split (only the first kernel's task measured): the split-off
    kernel is built with that task's record, as before, not untuned."""
    from edgetune.compile.library import apply_records
    from edgetune.records import database_of
    from edgetune.tasks.lower import without_epilogue_mark

    path = two_convs(tmp_path / "two.tflite")
    model = load_model(path)
    board = load_board("host")
    model_tasks = for_model(model, board)
    first = [t.name for t in model_tasks.tasks if without_epilogue_mark(t.mod["main"]) is None]
    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, 4, seed=0, final_top=0, task_filter=lambda t: t.name in first)

    fused = model_tasks.fused
    split = [
        gv
        for gv, f in fused.functions.items()
        if gv.name_hint != "main" and without_epilogue_mark(f) is not None
    ]
    assert len(split) == 1, [gv.name_hint for gv in fused.functions]
    unapplied: list[str] = []
    with board.target(), database_of(store):
        out = apply_records(fused, unapplied)
    assert unapplied == []
    assert not out[split[0]].same_as(fused[split[0]])  # scheduled: the shared task's record
    built = build_model(model, board, store)
    assert built.unapplied == [] and built.tuned == built.total == 2  # one by the shared record
    x = np.random.default_rng(2).standard_normal((1, 8, 8, 16)).astype(np.float32)
    for g, w in zip(load_executable(built.exe, 2)([x]), LiteRTModel(path, 2, True)([x])):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_every_kernel_of_a_task_is_built_with_the_record_s_whole_trace(tmp_path):
    """MobileNetV2 int8's three residual 1x1 convs of one stage are one task (same blocks,
    other requantization constants). TVM's build pass replays a record on the kernel it was
    tuned on only, and on the others just the anchor block's steps: with this measured trace
    that failed, and two kernels were built untuned. The whole trace replays on each. (Its
    VNNI kernels: on an AMX host the deep 1x1 convs are AMX kernels, so AMX is turned off.)"""
    import dataclasses

    import tvm

    from edgetune.compile.library import apply_records
    from edgetune.paths import MODELS_DIR
    from edgetune.tvm_api import ms, tirx

    host = load_board("host")
    board = dataclasses.replace(host, target_spec={**host.target_spec, "mattr": ["-amx-int8"]})
    model = load_model(MODELS_DIR / "mobilenet_v2_int8.tflite")
    fused = for_model(model, board).fused
    task = [gv for gv in fused.functions if "_quantized_add3_" in gv.name_hint]
    siblings = [gv for gv, f in fused.functions.items() if isinstance(f, tirx.PrimFunc)
                and workload_hash(tvm.IRModule({"main": f})) == workload_hash(
                    tvm.IRModule({"main": fused[task[0]]}))]  # fmt: skip
    assert len(siblings) == 3
    db = ms.database.JSONDatabase(work_dir=str(tmp_path), module_equality=MODULE_EQUALITY)
    work = db.commit_workload(tvm.IRModule({"main": fused[task[0]]}))
    text = (DATA / "mobilenet_v2_int8_residual_trace.json").read_text()
    register_intrinsics_named_in([text.encode()])  # its VNNI tensorize intrinsic
    data = json.loads(text)
    db.commit_tuning_record(ms.database.TuningRecord.from_json(data, work))
    unapplied: list[str] = []
    with board.target(), db:
        out = apply_records(tvm.IRModule({gv: fused[gv] for gv in siblings}), unapplied)
    assert unapplied == [] and not any(out[gv].same_as(fused[gv]) for gv in siblings)
    trees = {loop_tree(tvm.IRModule({"main": out[gv]})) for gv in siblings}
    assert len(trees) == 1  # the one measured schedule, on each of the three
