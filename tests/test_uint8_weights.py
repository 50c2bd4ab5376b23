"""uint8 models of TF1's converters carry uint8 weights with a zero point (137, 146, ...):
their convs and FULLY_CONNECTED run as integer kernels, bit-exact with LiteRT's reference
kernels, as int8 models do (before: dequantize, float op, quantize, 1-14 LSB off)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tflite_builder import uint8_network

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle.litert import LiteRTModel
from edgetune.runtime import load_executable


def test_uint8_weights_with_zero_points_are_integer_kernels_equal_to_litert(tmp_path):
    path = uint8_network(tmp_path / "u8.tflite")
    model = load_model(path)
    assert model.integer_ops == {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1}
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1)
    reference = LiteRTModel(path, threads=1, reference_kernels=True)
    spread = set()
    for seed in range(3):
        inputs = random_inputs(model.info, seed=seed)
        for got, want in zip(ours(inputs), reference(inputs), strict=True):
            np.testing.assert_array_equal(got, want)
            spread |= set(np.unique(want).tolist())
    assert len(spread) > 60  # outputs spread over the range, not saturated


@pytest.mark.parametrize("channels", [16, 12])
def test_a_tuned_uint8_conv_stays_exact(tmp_path, cli, channels):
    """Tuned, a uint8 model's conv (uint8 activations x int8 weights, w - 128) was 255 LSB off:
    VNNI's intrinsic, which loads a weight tile as one contiguous vector, was matched on its
    HWOI weights. Its weights are packed for VNNI now like an int8 model's (16 channels), and
    weights that are not (12: no VNNI width divides them) are never tensorized."""
    from tflite_builder import Op, Tensor, write

    from edgetune.quant.operands import dot_products

    rng = np.random.default_rng(0)
    w = rng.integers(0, 256, (channels, 3, 3, 8)).astype(np.uint8)
    bias = rng.integers(-3000, 3000, channels).astype(np.int32)
    tensors = [Tensor("x", (1, 6, 6, 8), "uint8", quant=(0.05, 217)),
               Tensor("w", w.shape, "uint8", w, quant=(0.01, 128)),
               Tensor("b", (channels,), "int32", bias, quant=(0.0005, 0)),
               Tensor("y", (1, 6, 6, channels), "uint8", quant=(0.3, 163))]  # fmt: skip
    conv = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", 0)]
    path = write(tmp_path / "u8conv.tflite", tensors,
                 [Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", conv)], [0], [3])  # fmt: skip
    recs = tmp_path / "recs"
    assert cli("tune", path, "--trials", 12, "--records", recs, "--no-library").code == 0
    tensorized = "vnni" in (recs / "database_tuning_record.json").read_text()
    vnni = bool(dot_products(load_board("host").target()))
    assert tensorized == (vnni and channels == 16)
    result = cli("compare", path, "--records", recs, "--rounds", 1, "--repeat", 2, "--json")
    (agreement,) = json.loads(result.out)["agreement_reference_kernels"]
    assert agreement["max_abs_diff"] == 0, agreement


@pytest.mark.parametrize("k", [12, 17])
def test_a_uint8_conv_multiplier_near_a_power_of_two_is_computed_as_tflite(tmp_path, k):
    """s_x s_w / s_o within float32 rounding of 2^k: TFLite's uint8 convs multiply s_x s_w in
    float32 (GetQuantizedConvolutionMultipler), 4096.0 -> M = 2^30; in float64 it was
    4095.9998 -> M = 2^31 - 118 with one shift less, and the left shift's int32 wrap took the
    results apart: up to 255 LSB on most elements."""
    from int8_support import run_untuned
    from tflite_builder import Op, Tensor, write

    rng = np.random.default_rng(5)
    w = rng.integers(0, 256, (8, 3, 3, 8)).astype(np.uint8)
    bias = rng.integers(-3000, 3000, 8).astype(np.int32)
    tensors = [Tensor("x", (1, 4, 4, 8), "uint8", quant=(0.05, 50)),
               Tensor("w", w.shape, "uint8", w, quant=(0.01, 0)),
               Tensor("b", (8,), "int32", bias, quant=(0.0005, 0)),
               Tensor("y", (1, 4, 4, 8), "uint8", quant=(0.05 * 0.01 / 2**k, 4))]  # fmt: skip
    conv = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", 0)]
    path = write(tmp_path / "pow2.tflite", tensors,
                 [Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", conv)], [0], [3])  # fmt: skip
    model = load_model(path)
    reference = LiteRTModel(path, threads=1, reference_kernels=True)
    for seed in range(2):
        inputs = random_inputs(model.info, seed=seed)
        np.testing.assert_array_equal(run_untuned(model, inputs), reference(inputs)[0])
