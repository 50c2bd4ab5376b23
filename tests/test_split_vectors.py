"""SplitVectors: vectorized loops of a width that is not a power of two become
power-of-two vectors, with the same results."""

import numpy as np
import pytest
from lowering_support import build_keeping_lowered


def _lowered(width: int, split: int, pipeline: str | None = None):
    """y[i, c] = max(x[i, c] * w[c] + b[c], 0) over (8, width), the channel loop split by
    `split` and its inner part vectorized, built for the host board with `pipeline` (default:
    edgetune's): (the built function, the TIR after lowering as text)."""
    from tvm import te

    from edgetune.lowering.pipeline import tir_pipeline
    from edgetune.tvm_api import s_tir, tirx

    x = te.placeholder((8, width), "float32", "x")
    w = te.placeholder((width,), "float32", "w")
    b = te.placeholder((width,), "float32", "b")
    y = te.compute(
        (8, width), lambda i, c: tirx.max(x[i, c] * w[c] + b[c], tirx.const(0.0, "float32"))
    )
    sch = s_tir.Schedule(te.create_prim_func([x, w, b, y]).with_attr("global_symbol", "main"))
    _, channels = sch.get_loops(sch.get_sblock(y.op.name))
    sch.vectorize(sch.split(channels, [None, split])[1])

    return build_keeping_lowered(sch.mod, pipeline or tir_pipeline())


@pytest.mark.parametrize(
    ("width", "split", "widths"),
    [
        (24, 24, [16, 8]),
        (48, 48, [32, 16]),
        (96, 12, [8, 4]),
        (32, 16, [16]),
        (18, 6, [6]),
        (200, 200, [64, 8]),  # 3 x 64 in a serial loop, then 8
    ],
)
def test_vectors_split_to_powers_of_two_same_results(width, split, widths):
    """24 -> 16 + 8 (one zmm and one ymm on AVX-512, not three ymm), 48 -> 32 + 16, 12 -> 8 + 4;
    powers of two and pieces under 4 lanes (6 = 4 + 2) stay as they are; every result is the one
    TVM's default pipeline computes (bit for bit) and NumPy's (up to the fused multiply-add's
    rounding)."""
    import tvm

    lib, text = _lowered(width, split)
    relu = "T.Broadcast(T.float32(0.0), {})"  # the vectorized max's zero, as wide as its vector
    for lanes in widths:
        assert relu.format(lanes) in text
    if widths != [split]:
        assert relu.format(split) not in text
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s).astype("float32") for s in ((8, width), width, width))
    results = []
    for built in (lib, _lowered(width, split, "default")[0]):
        y = tvm.runtime.tensor(np.zeros((8, width), "float32"))
        built(tvm.runtime.tensor(x), tvm.runtime.tensor(w), tvm.runtime.tensor(b), y)
        results.append(y.numpy())
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], np.maximum(x * w + b, 0), rtol=1e-6, atol=1e-6)


def test_a_vector_wider_than_tvm_lanes_builds_as_a_loop_of_vectors():
    """A record replayed on a kernel sharing its anchor can vectorize a whole epilogue (262144
    lanes in MediaPipe's selfie segmenter); TVM's own pipeline cannot build over 65535 lanes.
    Ours builds it as a serial loop of 64-lane vectors plus the rest, with NumPy's results."""
    import tvm

    width = 131072  # 2 x 65536: TVM's lane count wraps to 0
    with pytest.raises(tvm.error.InternalError, match="lanes=0"):
        _lowered(width, width, "default")
    lib, text = _lowered(width, width)
    assert "T.Broadcast(T.float32(0.0), 64)" in text
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype("float32") for s in ((8, width), width, width))
    y = tvm.runtime.tensor(np.zeros((8, width), "float32"))
    lib(tvm.runtime.tensor(x), tvm.runtime.tensor(w), tvm.runtime.tensor(b), y)
    np.testing.assert_allclose(y.numpy(), np.maximum(x * w + b, 0), rtol=1e-6, atol=1e-6)


def test_only_cpu_functions_are_split():
    from edgetune.board import load_board
    from edgetune.lowering.rewrite_pass import cpu_target

    assert cpu_target(load_board("host").target())
    assert cpu_target(load_board("qemu-a53").target())
    assert not cpu_target(None)
