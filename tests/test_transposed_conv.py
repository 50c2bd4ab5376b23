"""Transposed convs computed as regular NHWC convs (tasks/transposed_conv.py), against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.oracle import LiteRTModel
from edgetune.runtime import load_executable
from edgetune.tasks.lower import lower
from edgetune.tasks.transposed_conv import subpixel_weights


def naive_transposed_conv(x: np.ndarray, w_iohw: np.ndarray, s: tuple[int, int]) -> np.ndarray:
    """Uncropped NHWC transposed conv: input (i, j) times tap (a, b) adds to (i*s + a, j*s + b)."""
    n, h, w, _ = x.shape
    _, cout, k_h, k_w = w_iohw.shape
    out = np.zeros((n, (h - 1) * s[0] + k_h, (w - 1) * s[1] + k_w, cout))
    for a in range(k_h):
        for b in range(k_w):
            contrib = np.einsum("nhwc,co->nhwo", x, w_iohw[:, :, a, b])
            out[:, a : a + (h - 1) * s[0] + 1 : s[0], b : b + (w - 1) * s[1] + 1 : s[1]] += contrib
    return out


@pytest.mark.parametrize(
    ("kernel", "strides"), [((2, 2), (2, 2)), ((3, 5), (2, 3)), ((1, 1), (2, 2))]
)
def test_subpixel_weights_compute_the_transposed_conv(kernel, strides):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 4, 5, 3))
    w = rng.standard_normal((3, 2, *kernel))
    sub = subpixel_weights(w, strides)
    t_h, t_w = sub.shape[:2]
    padded = np.pad(x, ((0, 0), (t_h - 1, t_h - 1), (t_w - 1, t_w - 1), (0, 0)))
    m_h, m_w = padded.shape[1] - t_h + 1, padded.shape[2] - t_w + 1
    conv = sum(
        np.einsum("nhwc,co->nhwo", padded[:, a : a + m_h, b : b + m_w], sub[a, b])
        for a in range(t_h)
        for b in range(t_w)
    )
    full = conv.reshape(1, m_h, m_w, *strides, 2).transpose(0, 1, 3, 2, 4, 5)
    full = full.reshape(1, m_h * strides[0], m_w * strides[1], 2)
    want = naive_transposed_conv(x, w, strides)
    np.testing.assert_allclose(full[:, : want.shape[1], : want.shape[2]], want, atol=1e-12)
    assert not full[:, want.shape[1] :].any() and not full[:, :, want.shape[2] :].any()


def builtin_transpose_conv(path, kernel, strides, same, cout=3):
    """TFLite's TRANSPOSE_CONV of x (1, 7, 6, 5) to `cout` channels, then ADD of a bias."""
    rng = np.random.default_rng(kernel[0] * 10 + strides[0])
    w = rng.standard_normal((cout, *kernel, 5)).astype(np.float32)  # OHWI
    out = [n * s if same else (n - 1) * s + k for n, s, k in zip((7, 6), strides, kernel)]
    shape = (1, *out, cout)
    tensors = [
        Tensor("x", (1, 7, 6, 5)),  # 0
        Tensor("w", w.shape, data=w),  # 1
        Tensor("shape", (4,), "int32", np.array(shape, np.int32)),  # 2
        Tensor("t", shape),  # 3
        Tensor("b", (cout,), data=rng.standard_normal(cout).astype(np.float32)),  # 4
        Tensor("y", shape),  # 5
    ]
    options = [(0, "int8", 0 if same else 1), (1, "int32", strides[1]), (2, "int32", strides[0])]
    ops = [
        Op("TRANSPOSE_CONV", [2, 1, 0], [3], "TransposeConvOptions", options),
        Op("ADD", [3, 4], [5], "AddOptions"),
    ]
    return write(path, tensors, ops, [0], [5])


@pytest.mark.parametrize(
    ("kernel", "strides", "same"),
    [
        ((2, 2), (2, 2), False),  # one tap per phase: a 1x1 conv
        ((4, 4), (2, 2), True),
        ((3, 3), (2, 2), True),  # taps past the kernel are zero
        ((3, 3), (1, 1), True),
        ((5, 3), (3, 2), False),
        ((1, 1), (2, 2), False),  # phases with no tap at all
    ],
)
def test_builtin_transposed_convs_are_regular_convs_equal_to_litert(
    tmp_path, kernel, strides, same
):
    path = builtin_transpose_conv(tmp_path / "t.tflite", kernel, strides, same)
    model = load_model(path)
    board = load_board("host")
    names = [gv.name_hint for gv in lower(model.mod, board.target()).functions]
    assert not [n for n in names if "conv2d_transpose" in n], names
    assert [n for n in names if n.startswith("conv2d") or "_conv2d" in n]
    x = np.random.default_rng(0).uniform(-1, 1, (1, 7, 6, 5)).astype(np.float32)
    (got,) = load_executable(build_model(model, board, None).exe, 1)([x])
    (want,) = LiteRTModel(path, 1, builtin_kernels=True)([x])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_int8_transposed_conv_matches_litert_within_one_step(tmp_path):
    """A full-integer TRANSPOSE_CONV (3x3, stride 2, SAME, int32 bias): TVM imports it as
    dequantize -> float transposed conv -> quantize, rewritten into a float conv here."""
    rng = np.random.default_rng(8)
    w = rng.integers(-127, 128, (4, 3, 3, 5)).astype(np.int8)  # OHWI
    bias = rng.integers(-200, 200, 4).astype(np.int32)
    tensors = [
        Tensor("x", (1, 7, 6, 5), "int8", quant=(0.05, 3)),  # 0
        Tensor("w", w.shape, "int8", w, quant=(0.02, 0)),  # 1
        Tensor("shape", (4,), "int32", np.array([1, 14, 12, 4], np.int32)),  # 2
        Tensor("b", (4,), "int32", bias, quant=(0.001, 0)),  # 3
        Tensor("y", (1, 14, 12, 4), "int8", quant=(0.1, -2)),  # 4
    ]
    options = [(0, "int8", 0), (1, "int32", 2), (2, "int32", 2)]  # SAME, stride 2
    op = Op("TRANSPOSE_CONV", [2, 1, 0, 3], [4], "TransposeConvOptions", options)
    path = write(tmp_path / "t8.tflite", tensors, [op], [0], [4])
    model = load_model(path)
    board = load_board("host")
    names = [gv.name_hint for gv in lower(model.mod, board.target()).functions]
    assert not [n for n in names if "conv2d_transpose" in n], names
    x = np.random.default_rng(1).integers(-128, 128, (1, 7, 6, 5)).astype(np.int8)
    (got,) = load_executable(build_model(model, board, None).exe, 1)([x])
    (want,) = LiteRTModel(path, 1, builtin_kernels=True)([x])
    assert got.dtype == want.dtype == np.int8
    assert np.abs(got.astype(int) - want).max() <= 1
