"""SerialSmallLoops: a parallel loop too small to pay for waking TVM's threads runs on the
calling thread; larger ones stay parallel; results unchanged."""

import numpy as np
import pytest
from lowering_support import build_keeping_lowered


def _parallel_add(rows: int):
    """y = x + 1 over (rows, 64), rows parallel, the 64 columns vectorized; built for the host
    board with edgetune's pipeline: (the built function, the lowered TIR as text)."""
    from tvm import te

    from edgetune.lowering.pipeline import tir_pipeline
    from edgetune.tvm_api import s_tir, tirx

    x = te.placeholder((rows, 64), "float32", "x")
    y = te.compute((rows, 64), lambda i, c: x[i, c] + tirx.const(1.0, "float32"))
    sch = s_tir.Schedule(te.create_prim_func([x, y]).with_attr("global_symbol", "main"))
    i, c = sch.get_loops(sch.get_sblock(y.op.name))
    sch.parallel(i)
    sch.vectorize(c)
    return build_keeping_lowered(sch.mod, tir_pipeline())


@pytest.mark.parametrize(
    ("rows", "parallel"), [(8, False), (255, False), (256, True), (1024, True)]
)
def test_small_parallel_loops_run_serially(rows, parallel):
    """64 columns a row: below SERIAL_BELOW (16384) element operations the loop is serial."""
    import tvm

    lib, text = _parallel_add(rows)
    assert ("T.parallel(" in text) == parallel, text
    x = np.random.default_rng(0).standard_normal((rows, 64)).astype("float32")
    y = tvm.runtime.tensor(np.zeros((rows, 64), "float32"))
    lib(tvm.runtime.tensor(x), y)
    np.testing.assert_array_equal(y.numpy(), x + np.float32(1.0))


def test_a_loop_made_serial_is_not_unrolled_but_the_loops_inside_it_are():
    """Unroll pragmas on a parallel loop unroll the loops inside it, never the loop itself; made
    serial, it stays a loop (fully unrolled, a 64-lane gather mean took LLVM 100 s to build)."""
    import tvm
    from tvm import te

    from edgetune.lowering.pipeline import tir_pipeline
    from edgetune.tvm_api import s_tir

    x = te.placeholder((8, 4, 64), "float32", "x")
    k = te.reduce_axis((0, 4), "k")
    y = te.compute((8, 64), lambda i, c: te.sum(x[i, k, c], axis=k))
    sch = s_tir.Schedule(te.create_prim_func([x, y]).with_attr("global_symbol", "main"))
    i, c, k = sch.get_loops(sch.get_sblock(y.op.name))
    sch.reorder(i, k, c)
    sch.parallel(i)
    sch.vectorize(c)
    sch.annotate(i, "pragma_auto_unroll_max_step", 512)
    sch.annotate(i, "pragma_unroll_explicit", 1)
    lib, text = build_keeping_lowered(sch.mod, tir_pipeline())
    assert "T.parallel(" not in text and "in range(8)" in text, text  # serial, a loop still
    assert "in range(4)" not in text, text  # the reduction inside it unrolled, as when parallel
    data = np.random.default_rng(0).standard_normal((8, 4, 64)).astype("float32")
    out = tvm.runtime.tensor(np.zeros((8, 64), "float32"))
    lib(tvm.runtime.tensor(data), out)
    np.testing.assert_allclose(out.numpy(), data.sum(axis=1), rtol=1e-6)


def test_iterations_count_every_branch_and_stop_at_the_cap():
    from tvm import te

    from edgetune.lowering.serial_small import iterations
    from edgetune.tvm_api import tirx

    x = te.placeholder((10, 20), "float32", "x")
    y = te.compute((10, 20), lambda i, c: x[i, c] * 2.0)
    z = te.compute((10, 20), lambda i, c: y[i, c] + 1.0)  # two loop nests: 400 statements
    func = te.create_prim_func([x, z])
    assert iterations(func.body, 10**6) == 400
    assert iterations(func.body, 300) == 300
    assert isinstance(func.body, tirx.Stmt)
