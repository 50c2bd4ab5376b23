"""MediaPipe's MaxPoolingWithArgmax2D and MaxUnpooling2D (segmentation nets' encoder/decoder
pair; no LiteRT builtin computes the argmax): edgetune's host build of one-op models equals the
NumPy references of the oracle layer (which follow max_pool_argmax.cc / max_unpooling.cc),
bit for bit, on seeded random input with ties, padding and strides; a chain of the two
round-trips and is checked whole against LiteRT + NumPy (status pass-np)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.errors import ModelError
from edgetune.frontend import load_model
from edgetune.frontend.converters.mediapipe_pooling import PoolParams
from edgetune.oracle.conformance import check_model
from edgetune.oracle.mediapipe_ops import max_pool_with_argmax, max_unpooling
from edgetune.runtime import load_executable

SAME, VALID, RELU6 = 1, 2, 3


def _options(padding, stride_hw, filter_hw, activation=0) -> bytes:
    """TfLitePoolParams as MediaPipe's models carry it (40 bytes: computed padding last)."""
    (sh, sw), (fh, fw) = stride_hw, filter_hw
    return np.array([padding, sw, sh, fw, fh, activation, 0, 0, 0, 0], "<i4").tobytes()


def _run(path, inputs):
    exe = build_model(load_model(path), load_board("host"), None).exe
    return load_executable(exe, 1)(inputs)


def _pool(tmp_path, shape, raw, x):
    """(values, indices) of a one-op MaxPoolingWithArgmax2D model built by edgetune."""
    p = PoolParams.from_raw(raw, "test")
    out = (shape[0], *p.pooled_size(*shape[1:3]), shape[3])
    tensors = [Tensor("x", shape), Tensor("values", out), Tensor("indices", out)]
    op = Op("CUSTOM:MaxPoolingWithArgmax2D", [0], [1, 2], custom=raw)
    return _run(write(tmp_path / "pool.tflite", tensors, [op], [0], [1, 2]), [x])


def test_max_pool_with_argmax_by_hand(tmp_path):
    """3 x 4 input, 2 x 2 windows, stride 2, SAME: TFLite pads the bottom row only (total 1,
    none before). Ties keep the first position in row-major window order (MediaPipe's strict
    `>`); a window of -inf and padding gives float32's lowest at index 0 (the kernel's start)."""
    ninf = -np.inf
    x = np.array([[5, 1, 2, 2], [5, 0, 2, 3], [ninf, ninf, 7, 7]], np.float32).reshape(1, 3, 4, 1)
    values, indices = _pool(tmp_path, (1, 3, 4, 1), _options(SAME, (2, 2), (2, 2)), x)
    lowest = np.finfo(np.float32).min
    np.testing.assert_array_equal(values[0, ..., 0], [[5, 3], [lowest, 7]])
    np.testing.assert_array_equal(indices[0, ..., 0], np.float32([[0, 3], [0, 0]]) + 0.1)
    p = PoolParams.from_raw(_options(SAME, (2, 2), (2, 2)), "test")
    want = max_pool_with_argmax(x, p)
    np.testing.assert_array_equal(values, want[0])
    np.testing.assert_array_equal(indices, want[1])


@pytest.mark.parametrize(
    "shape, padding, stride, window, activation",
    [
        ((1, 9, 11, 5), SAME, (2, 2), (3, 3), RELU6),  # padded on every side, strided
        ((2, 7, 8, 3), VALID, (1, 1), (2, 2), 0),  # overlapping windows, batch 2
        ((1, 8, 9, 4), SAME, (3, 2), (2, 3), 0),  # stride > window rows: rows skipped
    ],
)
def test_max_pool_with_argmax_matches_numpy(tmp_path, shape, padding, stride, window, activation):
    rng = np.random.default_rng(11)
    x = rng.integers(-4, 5, shape).astype(np.float32)  # few values: ties in most windows
    raw = _options(padding, stride, window, activation)
    got = _pool(tmp_path, shape, raw, x)
    want = max_pool_with_argmax(x, PoolParams.from_raw(raw, "test"))
    np.testing.assert_array_equal(got[1], want[1])  # indices: exact
    np.testing.assert_allclose(got[0], want[0], rtol=1e-5, atol=0)
    assert len(np.unique(want[1])) > 3  # the maxima sit at various window positions
    if activation == RELU6:
        assert got[0].min() == 0 and x.min() < 0


def test_max_unpooling_matches_numpy_on_any_indices(tmp_path):
    """Indices as MediaPipe's kernel reads any float: truncated; some past the window
    (row >= filter), negative (C's truncating / and %) or outside the output (skipped);
    overlapping windows (stride 1) write the same places, the later write wins."""
    rng = np.random.default_rng(5)
    shape = (1, 5, 6, 3)
    raw = _options(VALID, (1, 1), (2, 2))
    data = rng.standard_normal(shape).astype(np.float32)
    indices = rng.uniform(-3.5, 9.5, shape).astype(np.float32)
    tensors = [Tensor("x", shape), Tensor("i", shape), Tensor("y", (1, 10, 12, 3))]
    op = Op("CUSTOM:MaxUnpooling2D", [0, 1], [2], custom=raw)
    path = write(tmp_path / "unpool.tflite", tensors, [op], [0, 1], [2])
    (got,) = _run(path, [data, indices])
    want = max_unpooling(data, indices, PoolParams.from_raw(raw, "test"))
    np.testing.assert_array_equal(got, want)
    written = np.count_nonzero(want)
    assert 0 < written < data.size  # some writes skipped or overwritten


def _chain(tmp_path):
    """x * 2 (a builtin) -> MaxPoolingWithArgmax2D -> MaxUnpooling2D, 2 x 2 windows."""
    raw = _options(SAME, (2, 2), (2, 2))
    two = Tensor("two", (1,), data=np.array([2.0], np.float32))
    tensors = [Tensor("x", (1, 6, 8, 4)), two, Tensor("x2", (1, 6, 8, 4))]
    tensors += [Tensor("v", (1, 3, 4, 4)), Tensor("i", (1, 3, 4, 4)), Tensor("y", (1, 6, 8, 4))]
    ops = [
        Op("MUL", [0, 1], [2], "MulOptions"),
        Op("CUSTOM:MaxPoolingWithArgmax2D", [2], [3, 4], custom=raw),
        Op("CUSTOM:MaxUnpooling2D", [3, 4], [5], custom=raw),
    ]
    return write(tmp_path / "chain.tflite", tensors, ops, [0], [5])


def test_pool_unpool_chain_round_trips(tmp_path):
    """The chain puts every window's first maximum back in its place, zeros elsewhere; LiteRT
    cannot run the model, so the whole-model check runs the two ops in NumPy around LiteRT
    (pass-np)."""
    path = _chain(tmp_path)
    x = np.random.default_rng(2).integers(-3, 4, (1, 6, 8, 4)).astype(np.float32)
    (got,) = _run(path, [x])
    windows = (2 * x).reshape(1, 3, 2, 4, 2, 4).transpose(0, 1, 3, 5, 2, 4).reshape(1, 3, 4, 4, 4)
    first = windows.argmax(axis=-1)  # numpy's argmax: the first maximum, row-major
    keep = np.zeros(windows.shape, bool)
    np.put_along_axis(keep, first[..., None], True, axis=-1)
    kept = np.where(keep, windows, 0).reshape(1, 3, 4, 4, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    np.testing.assert_array_equal(got, kept.reshape(1, 6, 8, 4))
    result = check_model(path, load_board("host"))
    assert result["status"] == "pass-np", result
    assert result["reference"] == (
        "LiteRT + NumPy (custom ops in NumPy: MaxPoolingWithArgmax2D x1, MaxUnpooling2D x1)"
    )


def test_compare_a_model_litert_cannot_run_against_litert_and_numpy(tmp_path, cli):
    """`compare` of a model whose MediaPipe ops LiteRT's Python package cannot run: numerics
    against LiteRT + NumPy versions of them, edgetune timed alone, LiteRT n/a, and `report
    --with` takes the result."""
    path = _chain(tmp_path)
    res = cli("compare", path, "--repeat", 2, "--rounds", 1, "--json")
    assert res.code == 0, res.err
    result = json.loads(res.out)
    assert result["litert"] is None and result["speedup_vs_litert"] is None
    assert result["latency_vs_litert"] is None
    assert result["edgetune"]["median_ms"] > 0
    assert result["reference"].startswith("LiteRT + NumPy (custom ops in NumPy: MaxPooling")
    assert [a["max_abs_diff"] for a in result["agreement"]] == [0.0]
    assert any("LiteRT not timed" in n for n in result["timing_notes"])
    text = cli("compare", path, "--repeat", 2, "--rounds", 1).out
    assert "LiteRT (XNNPACK)                        n/a" in text and "output 0: max abs" in text
    (tmp_path / "c.json").write_text(res.out)
    recs = tmp_path / "r"
    assert (
        cli("tune", path, "--records", recs, "--trials", 0, "--no-library", "--final-top", 0).code
        == 0
    )
    rep = cli("report", recs, "--with", tmp_path / "c.json", "-o", tmp_path / "r.md")
    assert rep.code == 0, rep.err
    assert "| c.json | chain |" in (tmp_path / "r.md").read_text()


def test_bad_pooling_options_are_one_line_errors(tmp_path, cli):
    tensors = [Tensor("x", (1, 4, 4, 1)), Tensor("v", (1, 2, 2, 1)), Tensor("i", (1, 2, 2, 1))]
    for raw, message in [
        (_options(0, (2, 2), (2, 2)), "padding 0 is neither SAME nor VALID"),
        (b"\x01\x00\x00\x00", "custom options of 4 bytes, not TfLitePoolParams"),
    ]:
        op = Op("CUSTOM:MaxPoolingWithArgmax2D", [0], [1, 2], custom=raw)
        path = write(tmp_path / "bad.tflite", tensors, [op], [0], [1, 2])
        with pytest.raises(ModelError, match=f"CUSTOM:MaxPoolingWithArgmax2D: {message}"):
            load_model(path)
    listing = cli("ops")
    assert "CUSTOM:MaxPoolingWithArgmax2D v1, CUSTOM:MaxUnpooling2D v1" in listing.out
    assert "CUSTOM:Landmarks2TransformMatrix v2," in listing.out
    assert "CUSTOM:TransformTensor v1/v2, CUSTOM:TransformTensorBilinear v1/v2" in listing.out
