"""float32 exp, sigmoid and tanh lowered to vector arithmetic (lowering/vector_exp.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edgetune.board import load_board
from edgetune.lowering.pipeline import tir_pipeline

SPECIALS = [0.0, -0.0, 1e-30, 1e-4, -0.3, 0.35, 88.72, 88.73, -87.3, -103.0, -104.0, -150.0, 200.0]
SPECIALS += [np.inf, -np.inf, np.nan]


def build(fn, n: int, pipeline: str):
    """B[i] = fn(A[i]) over n float32 values, vectorized by 16, for the host board."""
    import tvm
    from tvm import te

    from edgetune.tvm_api import s_tir

    a = te.placeholder((n,), "float32", name="A")
    b = te.compute((n,), lambda i: fn(a[i]), name="B")
    sch = s_tir.Schedule(te.create_prim_func([a, b]))
    (loop,) = sch.get_loops(sch.get_sblock("B"))
    sch.vectorize(sch.split(loop, [None, 16])[1])
    return tvm.compile(sch.mod, target=load_board("host").target(), tir_pipeline=pipeline)


def run(lib, x: np.ndarray) -> np.ndarray:
    import tvm

    a = tvm.runtime.tensor(x, tvm.cpu())
    b = tvm.runtime.tensor(np.zeros_like(x), tvm.cpu())
    lib["main"](a, b)
    return b.numpy()


def ulps(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """|got - want| in units of the last place of want rounded to float32 (normal results)."""
    with np.errstate(over="ignore"):
        rounded = want.astype(np.float32)
    normal = np.isfinite(rounded) & (np.abs(rounded) >= np.finfo(np.float32).tiny)
    err = np.abs(got[normal] - want[normal]) / np.spacing(np.abs(rounded[normal]))
    return err


@pytest.mark.parametrize(
    ("name", "max_ulp", "want"),
    [
        ("exp", 1.5, np.exp),
        ("sigmoid", 3.0, lambda v: 1 / (1 + np.exp(-v))),
        ("tanh", 3.0, np.tanh),
    ],
)
def test_exp_sigmoid_and_tanh_are_accurate_and_keep_special_values(name, max_ulp, want):
    from tvm import te

    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(-110, 95, 400_000, dtype=np.float32),
            (rng.standard_normal(100_000) * 8).astype(np.float32),
            np.array(SPECIALS, np.float32),
        ]
    )
    got = run(build(getattr(te, name), len(x), tir_pipeline()), x)
    with np.errstate(over="ignore"):
        exact = want(x.astype(np.float64))
    assert ulps(got, exact).max() <= max_ulp
    tiny = np.abs(exact) < np.finfo(np.float32).tiny  # subnormal or zero results
    assert np.abs(got[tiny] - exact[tiny]).max() < 1e-38
    with np.errstate(over="ignore"):
        specials = want(np.array(SPECIALS, np.float64)).astype(np.float32)
    np.testing.assert_array_equal(np.isnan(got[-16:]), np.isnan(specials))
    np.testing.assert_array_equal(got[-16:][np.isinf(specials)], specials[np.isinf(specials)])


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh"])
def test_no_libm_call_per_value(name):
    """TVM's default lowering calls expf once per lane; edgetune's pipeline computes in vector
    registers."""
    from tvm import te

    def calls_expf(pipeline: str) -> bool:
        return "expf" in build(getattr(te, name), 1024, pipeline).mod.inspect_source("asm")

    assert calls_expf("default")
    assert not calls_expf(tir_pipeline())
