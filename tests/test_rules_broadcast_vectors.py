"""Broadcasting element-wise kernels vectorize inside their rows (`rules/broadcast_vectors.py`);
the squeeze-and-excite gate as a kernel of its own is in test_real_model_kernels.py."""

from __future__ import annotations

import numpy as np
import pytest
from lowering_support import host_sketches

from edgetune.board import load_board
from edgetune.lowering.pipeline import tir_pipeline
from edgetune.rules.broadcast_vectors import row_width


def _scale(shape: tuple[int, ...], gate: tuple[int, ...]):
    """out = x * gate, the gate broadcast over x (TOPI's broadcast multiply as a PrimFunc)."""
    from tvm import te

    x = te.placeholder(shape, "float32", name="x")
    g = te.placeholder(gate, "float32", name="g")

    def gated(*i):
        return x(*i) * g(*[0 if d == 1 else v for v, d in zip(i, gate, strict=True)])

    return te.create_prim_func([x, g, te.compute(shape, gated, name="out")])


def _sketch(func):
    """The host rule set's one sketch of `func`, postprocessed."""
    (sketch,) = host_sketches(func)
    return sketch


def _vector_extents(sch) -> list[int]:
    from edgetune.tvm_api import tirx

    block = sch.get_sblock("out")
    loops = [sch.get(loop) for loop in sch.get_loops(block)]
    return [int(loop.extent) for loop in loops if loop.kind == tirx.ForKind.VECTORIZED]


@pytest.mark.parametrize(
    ("shape", "gate", "width"),
    [
        ((1, 25, 16, 144), (1, 1, 1, 144), 48),  # 64 lanes would span two rows
        ((1, 7, 4, 480), (1, 1, 1, 480), 48),
        ((1, 9, 9, 24), (1, 1, 1, 24), 48),  # two whole rows of 24
        ((1, 8, 8, 16), (1, 1, 1, 16), 64),  # four whole rows: unchanged
        ((1, 8, 8, 40), (1, 8, 8, 1), 40),  # a per-pixel scale over 40 channels
        ((1, 8, 8, 128), (1, 1, 1, 128), 64),  # rows of whole vectors: unchanged
    ],
)
def test_broadcast_vectors_lie_inside_a_row_and_compute_the_same(shape, gate, width):
    import tvm

    sch = _sketch(_scale(shape, gate))
    assert _vector_extents(sch) == [width]
    lib = tvm.compile(sch.mod, target=load_board("host").target(), tir_pipeline=tir_pipeline())
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype("float32")
    g = rng.standard_normal(gate).astype("float32")
    out = tvm.runtime.tensor(np.zeros(shape, "float32"))
    lib(tvm.runtime.tensor(x), tvm.runtime.tensor(g), out)
    np.testing.assert_array_equal(out.numpy(), x * g)


def test_element_wise_kernels_without_a_broadcast_keep_the_full_extent():
    from tvm import te

    x = te.placeholder((1, 25, 16, 144), "float32", name="x")
    y = te.placeholder((1, 25, 16, 144), "float32", name="y")
    func = te.create_prim_func([x, y, te.compute(x.shape, lambda *i: x(*i) * y(*i), name="out")])
    assert _vector_extents(_sketch(func)) == [64]


def test_row_width_prefers_whole_vectors_and_leaves_hopeless_rows():
    assert row_width(64, [144], 16) == 48
    assert row_width(64, [144, 96], 16) == 48
    assert row_width(64, [24], 16) == 48 and row_width(64, [16, 32], 16) == 64
    assert row_width(64, [100], 16) == 50  # no multiple of 16 divides 100
    assert row_width(64, [97], 16) == 64  # only 1 divides it: left as it is
    assert row_width(64, [], 16) == 64
