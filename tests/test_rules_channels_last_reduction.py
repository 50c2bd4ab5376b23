"""Channels-last reductions (`rules/channels_last_reduction.py`): global pooling splits its
pixels between threads and adds whole vectors of channels."""

from __future__ import annotations

import numpy as np
import pytest
from lowering_support import host_sketches

from edgetune.board import load_board
from edgetune.lowering.pipeline import tir_pipeline


def _mean(shape: tuple[int, ...], axes: tuple[int, ...]):
    """sum over `axes` of a float32 tensor, then / count: TOPI's global pooling as a PrimFunc."""
    from tvm import te

    x = te.placeholder(shape, "float32", name="x")
    kept = [i for i in range(len(shape)) if i not in axes]
    reduce = {a: te.reduce_axis((0, shape[a]), name=f"r{a}") for a in axes}
    count = float(np.prod([shape[a] for a in axes]))

    def index(*out):
        spatial = iter(out)
        return [reduce[i] if i in reduce else next(spatial) for i in range(len(shape))]

    total = te.compute(
        [shape[i] for i in kept],
        lambda *out: te.sum(x[tuple(index(*out))], axis=list(reduce.values())),
        name="total",
    )
    mean = te.compute(total.shape, lambda *i: total(*i) / count, name="mean")
    return te.create_prim_func([x, mean])


def _pixel_split(sketch) -> bool:
    """Whether the sketch's partial sums run in parallel over pixel chunks and vectorize
    channels: the rfactor block's outermost loop parallel, its innermost (a spatial one, the
    channels) vectorized. AddRFactor's own sketches keep the reduction innermost."""
    from edgetune.tvm_api import tirx

    try:
        loops = sketch.get_loops(sketch.get_sblock("total_rf_update"))
    except Exception:  # noqa: BLE001 - no such block in this sketch
        return False
    kinds = [sketch.get(loop).kind for loop in loops]
    return kinds[0] == tirx.ForKind.PARALLEL and kinds[-1] == tirx.ForKind.VECTORIZED


@pytest.mark.parametrize(
    ("shape", "axes"),
    [((1, 64, 64, 16), (1, 2)), ((1, 7, 7, 96), (1, 2)), ((1, 50, 40), (1,))],
)
def test_global_pooling_has_a_pixel_split_sketch_that_computes_the_mean(shape, axes):
    import tvm

    sketches = [s for s in host_sketches(_mean(shape, axes)) if _pixel_split(s)]
    assert sketches
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = x.mean(axis=axes)
    for sketch in sketches:
        lib = tvm.compile(
            sketch.mod, target=load_board("host").target(), tir_pipeline=tir_pipeline()
        )
        out = tvm.runtime.tensor(np.zeros(want.shape, np.float32))
        lib["main"](tvm.runtime.tensor(x), out)
        np.testing.assert_allclose(out.numpy(), want, rtol=1e-5, atol=1e-6)


def test_reductions_over_the_innermost_axis_and_convs_are_left_to_the_other_rules():
    from tvm import te

    from edgetune.rules.channels_last_reduction import ChannelsLastReduction
    from edgetune.tvm_api import s_tir

    x = te.placeholder((1, 16, 16, 32), "float32", name="x")
    w = te.placeholder((1, 1, 32, 16), "float32", name="w")
    k = te.reduce_axis((0, 32), name="k")
    conv = te.compute(
        (1, 16, 16, 16),
        lambda n, h, v, c: te.sum(x[n, h, v, k] * w[0, 0, k, c], axis=k),
        name="total",
    )
    rule = ChannelsLastReduction(2, 16, 64)._inst
    cases = [
        _mean((1, 64, 256), (2,)),
        te.create_prim_func([x, w, conv]),
        _mean((1, 64, 64, 16), (1, 2)),
    ]
    kept = []
    for func in cases:
        sch = s_tir.Schedule(func)
        kept.append(len(rule.apply(sch, sch.get_sblock("total"))) == 1)
    assert kept == [True, True, False]
