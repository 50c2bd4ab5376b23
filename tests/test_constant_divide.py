"""Float division by a constant lowered to a multiplication (lowering/constant_divide.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.board import load_board
from edgetune.lowering.pipeline import tir_pipeline


def build(divisor: float, pipeline: str, n: int = 4096):
    """B[i] = hard_swish-like A[i] * relu6(A[i] + 3) / divisor, vectorized by 16, host board."""
    import tvm
    from tvm import te

    from edgetune.tvm_api import s_tir

    a = te.placeholder((n,), "float32", name="A")
    b = te.compute((n,), lambda i: a[i] * te.min(te.max(a[i] + 3.0, 0.0), 6.0) / divisor, name="B")
    sch = s_tir.Schedule(te.create_prim_func([a, b]))
    (loop,) = sch.get_loops(sch.get_sblock("B"))
    sch.vectorize(sch.split(loop, [None, 16])[1])
    return tvm.compile(sch.mod, target=load_board("host").target(), tir_pipeline=pipeline)


def run(lib, x: np.ndarray) -> np.ndarray:
    import tvm

    out = tvm.runtime.tensor(np.zeros_like(x))
    lib["main"](tvm.runtime.tensor(x), out)
    return out.numpy()


@pytest.mark.parametrize("divisor", [6.0, 49.0, 0.1])
def test_division_by_a_constant_multiplies_within_one_ulp(divisor):
    x = np.random.default_rng(0).uniform(-8, 8, 4096).astype(np.float32)
    assert "vdivps" in build(divisor, "default").mod.inspect_source("asm")
    lib = build(divisor, tir_pipeline())
    assert "vdivps" not in lib.mod.inspect_source("asm")
    got = run(lib, x)
    want = x * np.clip(x + np.float32(3), 0, 6) / np.float32(divisor)  # float32 division
    assert (np.abs(got - want) <= np.spacing(np.abs(want))).all()


@pytest.mark.parametrize("divisor", [1e-39, 3e38])
def test_a_divisor_whose_reciprocal_is_not_a_float_keeps_the_division(divisor):
    x = np.linspace(-8, 8, 4096, dtype=np.float32)
    lib = build(divisor, tir_pipeline())
    assert "vdivps" in lib.mod.inspect_source("asm")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        want = x * np.clip(x + np.float32(3), 0, 6) / np.float32(divisor)
    np.testing.assert_array_equal(run(lib, x), want)
