"""Ops stock TVM 0.27 imports into other numbers than LiteRT's (an option ignored, a fused
activation LiteRT does not apply), refuses or fails to run although LiteRT runs them: each tiny
model, imported by edgetune, built untuned on the host, matches LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import Op, Tensor, i32, int8_sum, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.oracle.conformance import check_model
from edgetune.runtime import load_executable

RTOL = 1e-5  # of the output's largest magnitude: float kernels, other summation order


def _float_matches_litert(path, seed: int = 0) -> None:
    model = load_model(path)
    run = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    inputs = random_inputs(model.info, seed=seed)
    for ours, ref in zip(run(inputs), LiteRTModel(path, threads=1)(inputs), strict=True):
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=0, atol=RTOL * np.abs(ref).max())


def _int_matches_litert(path) -> dict:
    """check_model's verdict (integer models: TFLite's reference kernels, within 1 LSB)."""
    result = check_model(path, load_board("host"))
    assert result["status"] == "pass", result
    return result


def test_softmax_beta_scales_the_logits(tmp_path):
    beta = [(0, "float32", 2.7)]
    tensors = [Tensor("x", (2, 7)), Tensor("y", (2, 7))]
    ops = [Op("SOFTMAX", [0], [1], "SoftmaxOptions", beta)]
    _float_matches_litert(write(tmp_path / "softmax.tflite", tensors, ops, [0], [1]))

    tensors = [Tensor("x", (2, 10), "int8", quant=(0.1, 3)),
               Tensor("y", (2, 10), "int8", quant=(1 / 256, -128))]  # fmt: skip
    ops = [Op("SOFTMAX", [0], [1], "SoftmaxOptions", [(0, "float32", 0.5)])]
    _int_matches_litert(write(tmp_path / "q_softmax.tflite", tensors, ops, [0], [1]))


def test_gelu_approximate_is_the_tanh_form(tmp_path):
    tensors = [Tensor("x", (1, 64)), Tensor("y", (1, 64))]
    ops = [Op("GELU", [0], [1], "GeluOptions", [(0, "bool", True)])]
    _float_matches_litert(write(tmp_path / "gelu.tflite", tensors, ops, [0], [1]))


@pytest.mark.parametrize("depthwise", [False, True])
def test_a_fused_tanh_on_a_conv_is_not_applied_as_in_litert(tmp_path, depthwise):
    rng = np.random.default_rng(2)
    shape = (1, 3, 3, 4) if depthwise else (4, 3, 3, 4)
    w, b = (rng.standard_normal(n).astype(np.float32) for n in (shape, 4))
    tensors = [Tensor("x", (1, 5, 5, 4)), Tensor("w", shape, data=w), Tensor("b", (4,), data=b),
               Tensor("y", (1, 5, 5, 4))]  # fmt: skip
    tanh = 4  # ActivationFunctionType.TANH
    if depthwise:
        fields = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int32", 1),
                  (4, "int8", tanh)]  # fmt: skip
        op = Op("DEPTHWISE_CONV_2D", [0, 1, 2], [3], "DepthwiseConv2DOptions", fields)
    else:
        fields = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", tanh)]
        op = Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", fields)
    path = write(tmp_path / "conv_tanh.tflite", tensors, [op], [0], [3])
    _float_matches_litert(path, seed=1)


def test_a_sum_over_a_repeated_axis_reduces_it_once(tmp_path):
    tensors = [Tensor("x", (2, 3, 4)), i32("axes", [2, -1]), Tensor("y", (2, 3))]
    ops = [Op("SUM", [0, 1], [2], "ReducerOptions")]
    _float_matches_litert(write(tmp_path / "sum.tflite", tensors, ops, [0], [2]))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_split_v_infers_a_minus_one_size(tmp_path, dtype):
    q = (0.1, 3) if dtype == "int8" else None
    outputs = [Tensor(f"y{i}", (2, n), dtype, quant=q) for i, n in enumerate([2, 4, 1])]
    tensors = [Tensor("x", (2, 7), dtype, quant=q), i32("sizes", [2, -1, 1]), i32("axis", 1),
               *outputs]  # fmt: skip
    ops = [Op("SPLIT_V", [0, 1, 2], [3, 4, 5], "SplitVOptions", [(0, "int32", 3)])]
    path = write(tmp_path / f"split_{dtype}.tflite", tensors, ops, [0], [3, 4, 5])
    if q:
        _int_matches_litert(path)
    else:
        _float_matches_litert(path)


def test_reverse_over_two_axes(tmp_path):
    tensors = [Tensor("x", (2, 3, 4)), i32("axes", [1, 2]), Tensor("y", (2, 3, 4))]
    ops = [Op("REVERSE_V2", [0, 1], [2], "ReverseV2Options")]
    _float_matches_litert(write(tmp_path / "reverse.tflite", tensors, ops, [0], [2]))


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_space_to_batch_and_back_run_as_litert(tmp_path, dtype):
    """TF1's dilated-conv pattern: SPACE_TO_BATCH_ND with padding, BATCH_TO_SPACE_ND with crops
    (stock: built, then failed at the first run); int8 pads with the zero point."""
    q = (0.1, 3) if dtype == "int8" else None
    tensors = [Tensor("x", (1, 5, 6, 2), dtype, quant=q), i32("block", [2, 3]),
               i32("pads", [[1, 2], [0, 3]]), Tensor("s", (6, 4, 3, 2), dtype, quant=q),
               i32("crops", [[0, 1], [2, 1]]),
               Tensor("y", (1, 7, 6, 2), dtype, quant=q)]  # fmt: skip
    ops = [Op("SPACE_TO_BATCH_ND", [0, 1, 2], [3], "SpaceToBatchNDOptions"),
           Op("BATCH_TO_SPACE_ND", [3, 1, 4], [5], "BatchToSpaceNDOptions")]  # fmt: skip
    path = write(tmp_path / f"space_batch_{dtype}.tflite", tensors, ops, [0], [5])
    if q:
        _int_matches_litert(path)
    else:
        _float_matches_litert(path)


def test_one_scale_depthwise_weights_of_the_channel_dimension_are_per_tensor(tmp_path):
    """What a per-channel quantizer writes for a 1-channel depthwise conv: one scale,
    quantized_dimension 3 (stock: "Per-tensor DepthwiseConv2D weight QuantizedDimension() must
    be 0, got 3")."""
    rng = np.random.default_rng(4)
    w = rng.integers(-127, 128, (1, 3, 3, 1)).astype(np.int8)
    tensors = [Tensor("x", (1, 6, 6, 1), "int8", quant=(0.05, -3)),
               Tensor("w", w.shape, "int8", w, quant=(0.01, 0), quant_axis=3),
               Tensor("b", (1,), "int32", np.array([300], np.int32), quant=(0.0005, 0)),
               Tensor("y", (1, 6, 6, 1), "int8", quant=(0.02, 5))]  # fmt: skip
    fields = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int32", 1)]
    ops = [Op("DEPTHWISE_CONV_2D", [0, 1, 2], [3], "DepthwiseConv2DOptions", fields)]
    result = _int_matches_litert(write(tmp_path / "dw.tflite", tensors, ops, [0], [3]))
    assert result["outputs"] == [{"kind": "lsb", "error": 0.0}]


def test_where_litert_kernel_sets_disagree_the_builtin_ones_count(tmp_path):
    """int8 SUM over H, W: TFLite's reference kernel gives other numbers than its builtin one
    (and NumPy); edgetune's equal the builtin ones, and the verdict says the two differ."""
    result = _int_matches_litert(int8_sum(tmp_path / "q_sum.tflite"))
    assert result["reference"] == "LiteRT builtin kernels"
    (differ,) = result["reference_kernels_differ"]
    assert differ["kind"] == "lsb" and differ["error"] > 1


def test_a_model_that_aborts_tflites_reference_kernels_is_judged_by_the_builtin_ones(tmp_path, cli):
    """An int8 SOFTMAX on inputs of a tiny scale (MobileNetV2 uint8io's, random weights):
    TFLite's reference Softmax aborts the process in its Prepare (a TFLITE_CHECK), and
    `compare` died without a word (exit 134). Checked in a child process: conformance judges
    by the builtin kernels and says why, compare by XNNPACK with a note."""
    import json

    tensors = [Tensor("x", (1, 10), "int8", quant=(1e-9, 0)),
               Tensor("y", (1, 10), "int8", quant=(1 / 256, -128))]  # fmt: skip
    ops = [Op("SOFTMAX", [0], [1], "SoftmaxOptions", [(0, "float32", 1.0)])]
    path = write(tmp_path / "tiny_scale_softmax.tflite", tensors, ops, [0], [1])
    result = _int_matches_litert(path)
    assert "reference kernels abort on this model" in result["reference"]
    done = cli("compare", path, "--rounds", "1", "--repeat", "2", "--json")
    assert done.code == 0, done.err
    compared = json.loads(done.out)
    assert compared["agreement"] and compared["agreement_reference_kernels"] == []
    assert "reference kernels abort on this model (SIGABRT" in compared["reference_kernels_note"]
