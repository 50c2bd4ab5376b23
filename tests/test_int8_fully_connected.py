"""int8 FULLY_CONNECTED requantizes as LiteRT's reference kernel does: in float64, rounded half
away from zero, not with the convs' fixed-point multiplier (which differs by one step on up to
a quarter of the outputs at scales near 1/3).

One-op models written with the flatbuffer builder, per-tensor and per-channel weights, fused
ReLU, a batch of rows; LiteRT's reference kernels are the oracle.
"""

from __future__ import annotations

import numpy as np
import pytest
from int8_support import run_untuned
from tflite_builder import Op, Tensor, write

from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle.litert import LiteRTModel

BATCH, DEPTH, UNITS = 16, 8, 24
X_SCALE, X_ZP, O_ZP = 0.05, -7, 5


def int8_fully_connected(
    path,
    w_scales: list[float],
    o_scale: float,
    relu: bool,
    seed: int = 0,
    x_shape: tuple[int, ...] = (BATCH, DEPTH),
    keep_num_dims: bool = False,
) -> None:
    """x [BATCH, DEPTH] int8 (or `x_shape`, which the op flattens to that) -> FULLY_CONNECTED
    (int8 weights with `w_scales`, one per unit or one for all; int32 bias) -> y [BATCH, UNITS]
    int8 (with `keep_num_dims`: x [..., DEPTH] -> y [..., UNITS])."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-3, 4, (UNITS, DEPTH)).astype(np.int8)
    bias = rng.integers(-600, 600, UNITS).astype(np.int32)
    b_scales = [X_SCALE * s for s in w_scales]
    per_channel = len(w_scales) > 1
    tensors = [
        Tensor("x", x_shape, "int8", quant=(X_SCALE, X_ZP)),
        Tensor("w", (UNITS, DEPTH), "int8", w, quant=(w_scales if per_channel else w_scales[0], 0)),
        Tensor("b", (UNITS,), "int32", bias, quant=(b_scales if per_channel else b_scales[0], 0)),
        Tensor("y", (*x_shape[:-1], UNITS) if keep_num_dims else (BATCH, UNITS), "int8",
               quant=(o_scale, O_ZP)),
    ]  # fmt: skip
    fields = ([(0, "int8", 1)] if relu else []) + ([(2, "bool", True)] if keep_num_dims else [])
    ops = [Op("FULLY_CONNECTED", [0, 1, 2], [3], "FullyConnectedOptions", fields, version=4)]
    write(path, tensors, ops, [0], [3])


@pytest.mark.parametrize(
    "w_scales, o_scale, relu",
    [
        ([0.02], 0.003, False),  # effective scale 1/3: two-step rounding differs most often
        ([0.02], 0.003, True),
        (list(np.linspace(0.005, 0.04, UNITS)), 0.0031, False),  # per-channel weights
        ([0.013], 0.0081, False),  # scale 0.08: the fixed-point form shifts 4 bits
    ],
)
def test_outputs_equal_litert_reference(tmp_path, w_scales, o_scale, relu):
    path = tmp_path / "fc.tflite"
    int8_fully_connected(path, w_scales, o_scale, relu)
    model = load_model(path)
    reference = LiteRTModel(path, threads=1, reference_kernels=True)
    spread = set()
    for seed in range(4):
        inputs = random_inputs(model.info, seed=seed)
        ours = run_untuned(model, inputs)
        expected = reference(inputs)[0]
        assert ours.dtype == np.int8
        np.testing.assert_array_equal(ours, expected)
        spread |= set(np.unique(expected).tolist())
    assert len(spread) > 40  # outputs spread over the range, not saturated


def test_an_input_the_op_flattens_equals_litert_reference(tmp_path):
    """TF1 converters left the flattening to the op: x [BATCH, 2, DEPTH / 2] into DEPTH inputs
    is read as [BATCH, DEPTH] (stock TVM: "Matmul requires the reduction length")."""
    path = tmp_path / "fc.tflite"
    int8_fully_connected(path, [0.02], 0.003, False, x_shape=(BATCH, 2, DEPTH // 2))
    model = load_model(path)
    inputs = random_inputs(model.info, seed=1)
    expected = LiteRTModel(path, threads=1, reference_kernels=True)(inputs)[0]
    np.testing.assert_array_equal(run_untuned(model, inputs), expected)


def test_rank3_input_kept_is_an_integer_kernel(tmp_path):
    """x [1, T, DEPTH] with keep_num_dims (a sequence model's per-step projection): an integer
    kernel over the T rows, as the 2-D case (it stayed dequantize -> matmul -> quantize)."""
    path = tmp_path / "fc.tflite"
    int8_fully_connected(path, [0.02], 0.003, True, x_shape=(1, BATCH, DEPTH), keep_num_dims=True)
    model = load_model(path)
    assert model.integer_ops == {"FULLY_CONNECTED": 1}
    reference = LiteRTModel(path, threads=1, reference_kernels=True)
    for seed in range(2):
        inputs = random_inputs(model.info, seed=seed)
        np.testing.assert_array_equal(run_untuned(model, inputs), reference(inputs)[0])
