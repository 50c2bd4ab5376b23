"""Thread split (`rules/thread_split.py`): kernels with work for every thread use all threads,
and activation-bound ones split their work by output rows, so consecutive kernels hand each
core the rows it wrote."""

from __future__ import annotations

import json

import numpy as np

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import find_model, load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.records import TUNING_RECORDS, RecordStore
from edgetune.rules.thread_split import OutputNest, activation_bound
from edgetune.runtime import load_executable
from edgetune.search import tune_model
from edgetune.tasks import for_model
from edgetune.tasks.lower import LAYOUT_FREE


def _conv(size: int, cin: int, cout: int, rows: int | None = None):
    """A 1x1 NHWC conv (`rows` x size pixels, square by default) as a PrimFunc whose weights
    (param 1) are marked layout-free."""
    from tvm import te

    rows = rows or size
    x = te.placeholder((1, rows, size, cin), "float32", name="x")
    w = te.placeholder((1, 1, cin, cout), "float32", name="w")
    k = te.reduce_axis((0, cin), name="k")
    y = te.compute(
        (1, rows, size, cout),
        lambda n, h, v, c: te.sum(x[n, h, v, k] * w[0, 0, k, c], axis=k),
        name="conv",
    )
    return te.create_prim_func([x, w, y]).with_attr(LAYOUT_FREE, [1])


def _parallel_over(func, axis: str):
    """The conv with its `axis` loop ("h" or "w") outermost and parallel."""
    import tvm
    from tvm import s_tir

    sch = s_tir.Schedule(tvm.IRModule({"main": func}))
    n, h, w, c, k = sch.get_loops(sch.get_sblock("conv"))
    outer = {"h": h, "w": w, "c": c}[axis]
    sch.reorder(outer, n, *[lp for lp in (h, w, c) if lp != outer], k)
    sch.parallel(outer)
    return sch.mod["main"]


def test_activation_bound_kernels_must_split_by_rows():
    small_weights = _conv(28, 32, 64)  # 200 KB of activations, 8 KB of weights
    assert activation_bound(small_weights)
    assert OutputNest.of(_parallel_over(small_weights, "h")).splits_by_rows(2)
    assert OutputNest.of(_parallel_over(small_weights, "h")).splits_by_rows(4)
    assert not OutputNest.of(_parallel_over(small_weights, "w")).splits_by_rows(2)
    assert not activation_bound(_conv(7, 960, 320))  # 1.2 MB of weights, 250 KB of activations


def test_an_output_with_fewer_rows_than_threads_keeps_any_split():
    """A 1-row feature map (or TVM's NCHW transposed conv to one channel, whose axis 1 has one
    element) cannot be split by rows: every split is kept, not every split rejected."""
    one_row = _conv(256, 16, 32, rows=1)
    assert activation_bound(one_row)
    assert OutputNest.of(_parallel_over(one_row, "w")).splits_by_rows(2)
    assert OutputNest.of(_parallel_over(one_row, "c")).splits_by_rows(2)
    assert not OutputNest.of(_parallel_over(_conv(256, 16, 32, rows=2), "w")).splits_by_rows(2)


def test_a_parallel_loop_with_fewer_iterations_than_threads_keeps_any_split():
    """One parallel iteration (a tiny kernel fused and vectorized whole, as MetaSchedule
    schedules MediaPipe hand recrop's 32-value PReLU) has no split to align: kept."""
    import tvm
    from tvm import s_tir

    tiny = _conv(2, 8, 8)
    assert activation_bound(tiny)
    sch = s_tir.Schedule(tvm.IRModule({"main": tiny}))
    n, h, w, c, _ = sch.get_loops(sch.get_sblock("conv"))
    one, _rest = sch.split(sch.fuse(n, h, w, c), [1, None])
    sch.parallel(one)
    assert OutputNest.of(sch.mod["main"]).splits_by_rows(2)


def test_kernels_with_work_for_every_thread_must_use_them_all():
    """A busy core makes one-thread candidates look fastest; they are rejected up front."""
    conv = _conv(28, 32, 64)  # 50 K outputs, no parallel loop
    assert not OutputNest.of(conv).uses_all_threads(2)
    assert OutputNest.of(_parallel_over(conv, "w")).uses_all_threads(2)  # all threads, any split
    assert OutputNest.of(_parallel_over(conv, "h")).uses_all_threads(4)
    tiny = _conv(2, 8, 8)  # 32 outputs: not worth a second thread
    assert OutputNest.of(tiny).uses_all_threads(2)


def test_tuned_records_of_activation_bound_kernels_split_by_rows(tmp_path):
    """Every record the host rule set measured for an activation-bound kernel splits by rows
    (the postprocessor rejected the others before they were built); the build matches LiteRT."""
    from tvm import s_tir

    from edgetune.tvm_api import ms

    board = load_board("host")
    model = load_model(find_model("tiny_fp32"))
    tasks = for_model(model, board)
    bound = [t for t in tasks if activation_bound(t.mod["main"])]
    assert bound  # tiny_fp32's convs are activation-bound
    store = RecordStore(tmp_path / "recs", model.info, board)
    tune_model(model, board, store, 12, seed=0, search="ms", final_top=0, on_batch=lambda _: None)

    workloads = [
        ms.database.Workload.from_json(json.loads(line))
        for line in (store.path / "database_workload.json").read_text().splitlines()
    ]
    checked = 0
    for line in (store.path / TUNING_RECORDS).read_text().splitlines():
        index, record = json.loads(line)
        workload = workloads[index]
        if not activation_bound(workload.mod["main"]):
            continue
        sch = s_tir.Schedule(workload.mod)
        ms.database.TuningRecord.from_json(record, workload).trace.apply_to_schedule(
            sch, remove_postproc=False
        )
        nest = OutputNest.of(sch.mod["main"])
        assert nest.splits_by_rows(board.hardware.cores)
        assert nest.uses_all_threads(board.hardware.cores)
        checked += 1
    assert checked > 0

    (x,) = random_inputs(model.info, seed=3)
    (out,) = load_executable(build_model(model, board, store).exe, 2)([x])
    (ref,) = LiteRTModel(model.path, threads=1)([x])
    assert np.abs(out - ref).max() <= 1e-5 * np.abs(ref).max()
