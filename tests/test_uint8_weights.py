"""uint8 models of TF1's converters carry uint8 weights with a zero point (137, 146, ...):
their convs and FULLY_CONNECTED run as integer kernels, bit-exact with LiteRT's reference
kernels, as int8 models do (before: dequantize, float op, quantize, 1-14 LSB off)."""

from __future__ import annotations

import numpy as np
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
