"""edgetune's TFLite converter fixes: each tiny model fails in stock TVM 0.27 and, imported by
edgetune, builds on the host and matches LiteRT's reference kernels."""

from __future__ import annotations

import numpy as np
import pytest
import tflite
from tflite_builder import Op, Tensor, i32, stft_frames, write

from edgetune.board import load_board
from edgetune.errors import ModelError
from edgetune.oracle import LiteRTModel
from edgetune.oracle.conformance import check_model
from edgetune.oracle.substitute import substitute_custom_ops
from edgetune.tvm_api import tflite_frontend

Q = (0.1, 3)  # scale, zero point of every int8 tensor in the quantized model


def _stock_error(path) -> str:
    with pytest.raises(Exception) as err:  # noqa: PT011 - whatever stock TVM raises
        tflite_frontend.from_tflite(tflite.Model.GetRootAsModel(path.read_bytes(), 0))
    return str(err.value)


def _assert_matches_litert(path, **kwargs) -> dict:
    result = check_model(path, load_board("host"), **kwargs)
    assert result["status"] == "pass", result
    return result


def expand_dims(path):
    axis = Tensor("axis", (), "int32", np.array(-1, np.int32))
    tensors = [Tensor("x", (2, 3)), axis, Tensor("y", (2, 3, 1))]
    return write(path, tensors, [Op("EXPAND_DIMS", [0, 1], [2], "ExpandDimsOptions")], [0], [2])


def batch_matmul_const(path):
    b = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    tensors = [Tensor("x", (2, 4, 5)), Tensor("filters", (5, 3), data=b), Tensor("y", (2, 4, 3))]
    ops = [Op("BATCH_MATMUL", [0, 1], [2], "BatchMatMulOptions")]
    return write(path, tensors, ops, [0], [2])


def reshape_computed(path):
    tensors = [
        Tensor("x", (1, 6), signature=(-1, 6)),
        Tensor("y", (6, 1)),
        Tensor("shape", (2,), "int32"),
        Tensor("out", (1, 6), signature=(-1, 6)),
    ]
    ops = [
        Op("SHAPE", [0], [2], "ShapeOptions", [(0, "int8", 2)]),  # out_type int32
        Op("RESHAPE", [1, 2], [3], "ReshapeOptions"),
    ]
    return write(path, tensors, ops, [0, 1], [3])


def densify_fp16(path):
    """A sparse (CSR) float16 weight densified, dequantized to float32, in a FULLY_CONNECTED."""
    values = np.array([1.5, -2.0, 0.25, 3.0], np.float16)
    sparse = {"segments": [0, 2, 4], "indices": [0, 3, 1, 2]}
    tensors = [
        Tensor("x", (1, 4)),
        Tensor("w_sparse", (2, 4), "float16", data=values, sparsity=sparse),
        Tensor("w16", (2, 4), "float16"),
        Tensor("w", (2, 4)),
        Tensor("y", (1, 2)),
    ]
    ops = [
        Op("DENSIFY", [1], [2], "DensifyOptions"),
        Op("DEQUANTIZE", [2], [3], "DequantizeOptions"),
        Op("FULLY_CONNECTED", [0, 3, -1], [4], "FullyConnectedOptions"),
    ]
    return write(path, tensors, ops, [0], [4])


def quantized_moves(path):
    """int8 PAD (zero-point padding) -> STRIDED_SLICE -> SPLIT_V, and SHAPE of the input."""
    pads = Tensor("pads", (4, 2), "int32", np.array([[0, 0], [1, 1], [2, 0], [0, 0]], np.int32))
    tensors = [
        Tensor("x", (1, 4, 4, 2), "int8", quant=Q),  # 0
        pads,  # 1
        Tensor("padded", (1, 6, 6, 2), "int8", quant=Q),  # 2
        i32("begin", [0, 1, 0, 0]),  # 3
        i32("end", [1, 6, 5, 2]),  # 4
        i32("strides", [1, 2, 1, 1]),  # 5
        Tensor("sliced", (1, 3, 5, 2), "int8", quant=Q),  # 6
        i32("sizes", [1, 1]),  # 7
        i32("axis", 3),  # 8
        Tensor("left", (1, 3, 5, 1), "int8", quant=Q),  # 9
        Tensor("right", (1, 3, 5, 1), "int8", quant=Q),  # 10
        Tensor("shape", (4,), "int32"),  # 11
    ]
    ops = [
        Op("PAD", [0, 1], [2], "PadOptions"),
        Op("STRIDED_SLICE", [2, 3, 4, 5], [6], "StridedSliceOptions"),
        Op("SPLIT_V", [6, 7, 8], [9, 10], "SplitVOptions", [(0, "int32", 2)]),
        Op("SHAPE", [0], [11], "ShapeOptions", [(0, "int8", 2)]),
    ]
    return write(path, tensors, ops, [0], [9, 10, 11])


def test_rfft_is_one_fixed_kernel_and_matches_numpy():
    """RFFT2D is one kernel of loops (not a tuning task, its twiddles never repacked) whose
    bins equal NumPy's real FFT, for row counts that fill the vector lanes and ones that do
    not, transforms shorter than a tile of the transposition, and rows zero-padded or cropped
    to the transform's length."""
    import tvm

    from edgetune.frontend.converters.fourier import rfft_rows, twiddle_table

    target = load_board("host").target()
    rng = np.random.default_rng(5)
    for rows, n, width in (
        (16, 64, 64),
        (13, 256, 256),
        (3, 8, 8),
        (2, 2, 2),
        (9, 64, 40),
        (5, 32, 50),
    ):
        lib = tvm.compile(tvm.IRModule({"main": rfft_rows(rows, n, width)}), target=target)
        x = rng.standard_normal((rows, width)).astype(np.float32)
        out = tvm.runtime.empty((rows, n // 2 + 1, 2), "float32", tvm.cpu())
        lib["main"](tvm.runtime.tensor(x, tvm.cpu()), tvm.runtime.tensor(twiddle_table(n)), out)
        got = out.numpy()
        expected = np.fft.rfft(x.astype(np.float64), n=n, axis=-1)  # pads or crops to n
        np.testing.assert_allclose(got[..., 0] + 1j * got[..., 1], expected, atol=2e-5 * n**0.5)


def test_fully_connected_flattens_an_input_of_another_depth(tmp_path):
    """FULLY_CONNECTED of a [1, 2, 3, 4] input with 24-input weights: TFLite flattens it to
    [1, 24] (TF1 converters left the RESHAPE out); stock TVM failed to multiply."""
    w = np.random.default_rng(2).standard_normal((5, 24)).astype(np.float32)
    tensors = [Tensor("x", (1, 2, 3, 4)), Tensor("w", (5, 24), data=w), Tensor("y", (1, 5))]
    ops = [Op("FULLY_CONNECTED", [0, 1, -1], [2], "FullyConnectedOptions")]
    _assert_matches_litert(write(tmp_path / "fc.tflite", tensors, ops, [0], [2]))


@pytest.mark.parametrize("width", [48, 80])
def test_rfft_pads_and_crops_rows_as_litert(tmp_path, width):
    """TFLite's RFFT2D zero-pads a row shorter than fft_length and crops a longer one (a
    400-sample frame in a 512-point transform): edgetune's kernel does too."""
    tensors = [
        Tensor("x", (3, 1, width)),
        i32("fft_length", [1, 64]),
        Tensor("spectrum", (3, 1, 33), "complex64"),
        Tensor("magnitude", (3, 1, 33)),
    ]
    ops = [Op("RFFT2D", [0, 1], [2]), Op("COMPLEX_ABS", [2], [3])]
    _assert_matches_litert(write(tmp_path / f"rfft{width}.tflite", tensors, ops, [0], [3]))


def test_stft_lowers_to_a_fixed_fft_kernel(tmp_path):
    from edgetune.frontend import load_model
    from edgetune.quant.kernel_kind import FIXED_SCHEDULE
    from edgetune.tasks import for_model

    model = load_model(stft_frames(tmp_path / "stft.tflite"))
    tasks = for_model(model, load_board("host"))
    ffts = [f for g, f in tasks.fused.functions.items() if g.name_hint.startswith("rfft_rows")]
    assert len(ffts) == 1 and FIXED_SCHEDULE in ffts[0].attrs
    assert not any("rfft" in t.name for t in tasks)


def test_stft_on_a_gpu_board_is_refused_in_one_line(tmp_path):
    """The FFT kernel is CPU loops: an OpenCL board gets a ModelError naming RFFT2D, not TVM's
    unbound-loop verification failure."""
    from edgetune.frontend import load_model
    from edgetune.tasks import for_model

    model = load_model(stft_frames(tmp_path / "stft.tflite"))
    with pytest.raises(ModelError, match=r"RFFT2D run as CPU kernels .* opencl boards"):
        for_model(model, load_board("mali-pocl"))


def test_a_weight_read_at_a_divided_index_keeps_its_layout():
    """MetaSchedule's RewriteLayout packed a table read at (i % span % half) * stride into 8
    values read at constant positions (an FFT's twiddles: wrong bins when tuned), so `lower`
    leaves such a weight unmarked; the same weight read at i stays layout-free."""
    from tvm import relax, te

    from edgetune.tasks.lower import LAYOUT_FREE, mark_layout_free

    def scaled(x, w, divided: bool):
        return te.compute((64,), lambda i: x[i] * w[i % 16 // 2 if divided else i])

    bb = relax.BlockBuilder()
    x = relax.Var("x", relax.TensorType((64,), "float32"))
    with bb.function("main", [x]):
        with bb.dataflow():
            w = relax.const(np.ones(64, np.float32))
            y = bb.emit_te(scaled, x, w, divided=True, primfunc_name_hint="divided")
            z = bb.emit_te(scaled, y, w, divided=False, primfunc_name_hint="direct")
            out = bb.emit_output(z)
        bb.emit_func_output(out)
    marked = mark_layout_free(bb.get())
    attrs = {g.name_hint: f.attrs or {} for g, f in marked.functions.items()}
    assert LAYOUT_FREE not in attrs["divided"]
    assert list(attrs["direct"][LAYOUT_FREE]) == [1]


@pytest.mark.parametrize(
    ("make", "stock_message"),
    [
        (expand_dims, "expand_dims() takes 2 positional arguments but 3 were given"),
        (batch_matmul_const, "filters"),  # KeyError: the constant looked up as a graph tensor
        (reshape_computed, "Mismatched type on argument #0"),
        (densify_fp16, "a bytes-like object is required, not 'int'"),
        (quantized_moves, "quantized TFLite operators are not supported"),
        (stft_frames, "Mismatched type on argument #0"),
    ],
)
def test_stock_tvm_fails_edgetune_matches_litert(tmp_path, make, stock_message):
    path = make(tmp_path / f"{make.__name__}.tflite")
    assert stock_message in _stock_error(path)
    result = _assert_matches_litert(path)
    if make is quantized_moves:  # integers moved, not recomputed: bit-exact, every output
        assert [o["error"] for o in result["outputs"]] == [0.0, 0.0, 0.0]


def _transpose_conv_pair(tmp_path, kernel: int, same: bool):
    """MediaPipe's Convolution2DTransposeBias (stride 2) and the same computation with LiteRT
    builtins: TRANSPOSE_CONV to MediaPipe's output size, then ADD of the bias."""
    rng = np.random.default_rng(kernel)
    w = rng.standard_normal((2, kernel, kernel, 3)).astype(np.float32)  # OHWI
    bias = rng.standard_normal(2).astype(np.float32)
    # MediaPipe's output size: 2 * (in - 1) + k - pad, pad = max(0, k - (in - 1) % 2 - 1) if SAME
    out_h, out_w = (
        2 * (n - 1) + kernel - (max(0, kernel - (n - 1) % 2 - 1) if same else 0) for n in (5, 4)
    )
    x, y = Tensor("x", (1, 5, 4, 3)), Tensor("y", (1, out_h, out_w, 2))
    weights, b = Tensor("w", w.shape, data=w), Tensor("b", (2,), data=bias)
    options = np.array([1 if same else 2, 2, 2], "<i4").tobytes()  # padding, stride w, h
    custom_op = Op("CUSTOM:Convolution2DTransposeBias", [0, 1, 2], [3], custom=options)
    custom = write(tmp_path / "custom.tflite", [x, weights, b, y], [custom_op], [0], [3])
    shape = Tensor("shape", (4,), "int32", np.array(y.shape, np.int32))
    conv_options = [(0, "int8", 0 if same else 1), (1, "int32", 2), (2, "int32", 2)]
    ops = [
        Op("TRANSPOSE_CONV", [4, 1, 0], [5], "TransposeConvOptions", conv_options),
        Op("ADD", [5, 2], [3], "AddOptions"),
    ]
    tensors = [x, weights, b, y, shape, Tensor("t", y.shape)]
    return custom, write(tmp_path / "builtin.tflite", tensors, ops, [0], [3]), y.shape


@pytest.mark.parametrize(("kernel", "same"), [(2, True), (3, True), (3, False)])
def test_mediapipe_transpose_conv_bias_matches_litert_builtins(tmp_path, kernel, same):
    from edgetune.compile import build_model
    from edgetune.frontend import load_model
    from edgetune.runtime import load_executable

    custom, builtin, shape = _transpose_conv_pair(tmp_path, kernel, same)
    assert "Custom operators are currently not supported" in _stock_error(custom)
    model = load_model(custom)
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 5, 4, 3)).astype(np.float32)
    (got,), (want,) = ours([x]), LiteRTModel(builtin, 1, builtin_kernels=True)([x])
    assert got.shape == want.shape == shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # the conformance reference: LiteRT on a copy with the custom op substituted by builtins
    content, replaced = substitute_custom_ops(custom.read_bytes())
    assert replaced == {"Convolution2DTransposeBias": 1}
    (substituted,) = LiteRTModel(content, 1, builtin_kernels=True)([x])
    np.testing.assert_array_equal(substituted, want)


def test_conformance_and_compare_substitute_mediapipe_custom_op(tmp_path, cli):
    custom = _transpose_conv_pair(tmp_path, 3, True)[0]
    with pytest.raises(ModelError, match="Convolution2DTransposeBias"):  # LiteRT alone
        LiteRTModel(custom, 1, builtin_kernels=True)
    result = _assert_matches_litert(custom)
    reference = "LiteRT (custom ops substituted: Convolution2DTransposeBias x1)"
    assert result["reference"] == reference
    compared = cli("compare", custom, "--repeat", "1")
    assert compared.code == 0, compared.err
    assert f"reference: {reference}" in compared.out
    assert "max rel diff" in compared.out


@pytest.mark.parametrize("alpha_shape", [(1, 1, 8), (6, 6, 8)])
def test_prelu_fuses_into_the_conv_before_it_and_matches_litert(tmp_path, alpha_shape):
    """Stock 0.27 imports PRELU as reshape -> prelu on a full-size alpha -> reshape, a kernel of
    its own after the conv; edgetune's element-wise form fuses into the conv's kernel."""
    from edgetune.frontend import load_model
    from edgetune.tasks.lower import lower

    rng = np.random.default_rng(4)
    w = rng.standard_normal((8, 1, 1, 4)).astype(np.float32)  # OHWI
    alpha = rng.uniform(0.05, 0.5, alpha_shape).astype(np.float32)
    tensors = [
        Tensor("x", (1, 6, 6, 4)),  # 0
        Tensor("w", w.shape, data=w),  # 1
        Tensor("b", (8,), data=rng.standard_normal(8).astype(np.float32)),  # 2
        Tensor("conv", (1, 6, 6, 8)),  # 3
        Tensor("alpha", alpha_shape, data=alpha),  # 4
        Tensor("y", (1, 6, 6, 8)),  # 5
    ]
    conv = [(0, "int8", 1), (1, "int32", 1), (2, "int32", 1)]  # VALID, stride 1
    ops = [
        Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", conv),
        Op("PRELU", [3, 4], [5]),
    ]
    path = write(tmp_path / "prelu.tflite", tensors, ops, [0], [5])
    lowered = lower(load_model(path).mod, load_board("host").target())
    kernels = [gv.name_hint for gv in lowered.functions if gv.name_hint != "main"]
    assert len(kernels) == 1 and "conv2d" in kernels[0], kernels
    _assert_matches_litert(path)


def test_gather_by_runtime_indices_clips_instead_of_crashing(tmp_path):
    """Indices computed at run time are not checked at import: stock's fast take read out of
    bounds (a crash where LiteRT reports an error); edgetune clips them to the axis, and
    in-range indices give LiteRT's rows."""
    from edgetune.compile import build_model
    from edgetune.frontend import load_model
    from edgetune.runtime import load_executable

    table = np.arange(15, dtype=np.float32).reshape(5, 3)
    tensors = [Tensor("table", (5, 3), data=table), Tensor("i", (4,), "int32"), Tensor("y", (4, 3))]
    ops = [Op("GATHER", [0, 1], [2], "GatherOptions", [(0, "int32", 0)])]
    path = write(tmp_path / "gather.tflite", tensors, ops, [1], [2])
    run = load_executable(build_model(load_model(path), load_board("host"), None).exe, 1)
    inside = np.array([4, 0, 2, 1], np.int32)
    (expected,) = LiteRTModel(path, 1)([inside])
    np.testing.assert_array_equal(run([inside])[0], expected)
    outside = np.array([7, -3, 1_000_000, 4], np.int32)
    np.testing.assert_array_equal(run([outside])[0], table[[4, 0, 4, 4]])
