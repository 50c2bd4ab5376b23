"""Quantized MUL, broadcasting ADD and HARD_SWISH as integer kernels, LEAKY_RELU as a table of
its 256 results, and ADD/MUL with a fused RELU: bit-exact against TFLite's reference kernels
(through dequantize -> float op -> quantize they were 1 LSB off on up to 25 % of the
elements)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from int8_support import run_untuned
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle.litert import LiteRTModel
from edgetune.tasks import for_model

RELU, RELU6 = 1, 3  # ActivationFunctionType


def _exact(path, op: str) -> None:
    """The model's `op` became an integer kernel whose outputs equal TFLite's reference
    kernels' on random inputs of the whole range."""
    model = load_model(path)
    assert model.integer_ops == {op: 1}, model.integer_ops
    reference = LiteRTModel(path, 1, reference_kernels=True)
    for seed in range(3):
        inputs = random_inputs(model.info, seed=seed)
        (want,) = reference(inputs)
        np.testing.assert_array_equal(run_untuned(model, inputs), want)


@pytest.mark.parametrize(
    ("dtype", "other", "activation", "out_scale"),
    [
        ("int8", (1, 1, 1, 8), 0, 0.0029),  # a squeeze-excite scale: broadcast over H, W
        ("int8", (1, 5, 5, 8), RELU6, 0.0029),
        ("int8", (1, 5, 5, 8), RELU, 0.0029),  # TVM imports a fused RELU as nn.relu, not a clip
        ("uint8", (1, 1, 5, 8), RELU, 0.0029),
        ("uint8", (8,), 0, 0.0029),
        ("int8", "constant", 0, 0.0029),
        ("int8", (1, 5, 5, 8), 0, 1e-9),  # a multiplier of 2^18: TFLite's x * 2^shift wraps
    ],
)
def test_mul(tmp_path, dtype, other, activation, out_scale):
    _binary_exact(tmp_path, "MUL", dtype, other, activation, out_scale, (1, 5, 5, 8))


def _binary_exact(tmp_path, op: str, dtype: str, other, activation: int, out_scale: float,
                  constant: tuple[int, ...]) -> None:  # fmt: skip
    """x [1, 5, 5, 8] `op` y (of shape `other`, or "constant": a constant of shape `constant`),
    with a fused `activation`: an integer kernel equal to the reference kernels."""
    zp = (3, -7, 11) if dtype == "int8" else (131, 120, 127)
    x = Tensor("x", (1, 5, 5, 8), dtype, quant=(0.037, zp[0]))
    if other == "constant":
        values = np.random.default_rng(1).integers(-128, 128, constant).astype(np.int8)
        y = Tensor("y", values.shape, dtype, values, quant=(0.0123, zp[1]))
    else:
        y = Tensor("y", other, dtype, quant=(0.0123, zp[1]))
    out = Tensor("out", (1, 5, 5, 8), dtype, quant=(out_scale, zp[2]))
    ops = [Op(op, [0, 1], [2], f"{op.title()}Options", [(0, "int8", activation)])]
    inputs = [0] if other == "constant" else [0, 1]
    _exact(write(tmp_path / "binary.tflite", [x, y, out], ops, inputs, [2]), op)


@pytest.mark.parametrize(
    ("dtype", "alpha", "out_scale"),
    [
        ("int8", 0.2, 0.041),
        ("uint8", 0.1, 0.041),
        ("int8", 1.7, 0.041),
        ("int8", -0.3, 0.041),
        ("int8", 0.2, 3e-7),  # a multiplier of 2^17: TFLite's x * 2^shift wraps in int32
    ],
)
def test_leaky_relu(tmp_path, dtype, alpha, out_scale):
    zp = (-5, 9) if dtype == "int8" else (140, 100)
    tensors = [
        Tensor("x", (1, 6, 6, 4), dtype, quant=(0.05, zp[0])),
        Tensor("y", (1, 6, 6, 4), dtype, quant=(out_scale, zp[1])),
    ]
    ops = [Op("LEAKY_RELU", [0], [1], "LeakyReluOptions", [(0, "float32", alpha)])]
    _exact(write(tmp_path / "leaky.tflite", tensors, ops, [0], [1]), "LEAKY_RELU")


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_add_with_a_fused_relu(tmp_path, dtype):
    """A residual ADD + RELU (ResNet's blocks): the RELU went through QDQ, 1 LSB off."""
    zp = (3, -7, 11) if dtype == "int8" else (131, 120, 127)
    tensors = [Tensor("a", (1, 5, 5, 8), dtype, quant=(0.037, zp[0])),
               Tensor("b", (1, 5, 5, 8), dtype, quant=(0.0123, zp[1])),
               Tensor("out", (1, 5, 5, 8), dtype, quant=(0.029, zp[2]))]  # fmt: skip
    ops = [Op("ADD", [0, 1], [2], "AddOptions", [(0, "int8", RELU)])]
    _exact(write(tmp_path / "add_relu.tflite", tensors, ops, [0, 1], [2]), "ADD")


@pytest.mark.parametrize(
    ("dtype", "other"),
    [("int8", (1, 1, 1, 8)), ("uint8", (1, 1, 5, 8)), ("int8", (8,)), ("int8", "constant")],
)
def test_broadcasting_add(tmp_path, dtype, other):
    """ADD of a per-channel or a constant operand (it stayed dequantize -> add -> quantize)."""
    _binary_exact(tmp_path, "ADD", dtype, other, 0, 0.029, (1, 1, 1, 8))


@pytest.mark.parametrize(
    ("dtype", "x_quant", "out_quant"),
    [
        ("int8", (0.05, 3), (0.027, -3)),  # 2 of 256 off through QDQ
        ("uint8", (0.2, 100), (0.031, 7)),
        ("int8", (0.001, -90), (0.0005, 1)),  # relu-ish multiplier < 1: shifts right
        ("int8", (7.0, 10), (0.3, -5)),  # relu-ish multiplier 2^15: shifts left, saturating
        ("uint8", (0.0018, 33), (1.099, 18)),  # int16 rounding's wrapped mask: all 256 off
    ],
)
def test_hard_swish(tmp_path, dtype, x_quant, out_quant):
    """Every input value of the type through TFLite's fixed point equals the reference
    kernels'."""
    tensors = [Tensor("x", (1, 16, 16, 1), dtype, quant=x_quant),
               Tensor("y", (1, 16, 16, 1), dtype, quant=out_quant)]  # fmt: skip
    path = write(tmp_path / "op.tflite", tensors, [Op("HARD_SWISH", [0], [1])], [0], [1])
    model = load_model(path)
    assert model.integer_ops == {"HARD_SWISH": 1}, model.integer_ops
    info = np.iinfo(dtype)
    every = np.arange(info.min, info.max + 1).astype(dtype).reshape(1, 16, 16, 1)
    (want,) = LiteRTModel(path, 1, reference_kernels=True)([every])
    np.testing.assert_array_equal(run_untuned(model, [every]), want)


def test_hard_swish_refused_by_tflite_stays_float(tmp_path):
    """An output scale at most the input's / 128 makes TFLite refuse HARD_SWISH (its output
    multiplier would be >= 1): edgetune keeps the float form, no table of another formula."""
    tensors = [Tensor("x", (1, 4, 4, 2), "int8", quant=(0.5, 0)),
               Tensor("y", (1, 4, 4, 2), "int8", quant=(0.001, 0))]  # fmt: skip
    path = write(tmp_path / "op.tflite", tensors, [Op("HARD_SWISH", [0], [1])], [0], [1])
    assert load_model(path).integer_ops == {}


@pytest.mark.parametrize(
    ("op", "options", "kernel"),
    [
        ("HARD_SWISH", None, "quantized_hard_swish"),  # MobileNetV3's blocks
        ("LEAKY_RELU", ("LeakyReluOptions", [(0, "float32", 0.1)]), "table_lookup"),
    ],
)
def test_one_input_op_fuses_into_the_conv_before_it(tmp_path, cli, op, options, kernel):
    """CONV_2D -> HARD_SWISH or LEAKY_RELU: the op is the conv's epilogue, one task (a table
    lookup was a kernel of its own: another pass over the tensor), and a tuned build of it
    equals the reference kernels."""
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (16, 3, 3, 8)).astype(np.int8)
    bias = rng.integers(-3000, 3000, 16).astype(np.int32)
    tensors = [Tensor("x", (1, 12, 12, 8), "int8", quant=(0.05, -3)),
               Tensor("w", w.shape, "int8", w, quant=([0.01] * 16, 0)),
               Tensor("b", (16,), "int32", bias, quant=([0.0005] * 16, 0)),
               Tensor("y", (1, 12, 12, 16), "int8", quant=(0.3, 5)),
               Tensor("z", (1, 12, 12, 16), "int8", quant=(0.2, -100))]  # fmt: skip
    conv = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", 0)]
    name, fields = options or (None, [])
    ops = [Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", conv), Op(op, [3], [4], name, fields)]
    path = write(tmp_path / "conv_op.tflite", tensors, ops, [0], [4])
    model = load_model(path)
    assert model.integer_ops == {"CONV_2D": 1, op: 1}
    names = [t.name for t in for_model(model, load_board("host")).tasks]
    (fused,) = [n for n in names if kernel in n]
    assert "conv2d" in fused, names
    recs, lib = tmp_path / "recs", tmp_path / "m.so"
    assert cli("tune", path, "--trials", 6, "--records", recs, "--no-library").code == 0
    assert cli("build", path, "--records", recs, "-o", lib).code == 0
    result = cli("compare", path, "--records", recs, "--rounds", 1, "--repeat", 2, "--json")
    assert result.code == 0, result.err
    (agreement,) = json.loads(result.out)["agreement_reference_kernels"]
    assert agreement["max_abs_diff"] == 0 and agreement["lsb_histogram"]["0"] == 12 * 12 * 16


@pytest.mark.parametrize(
    ("op", "dtype"),
    [("RELU", "int8"), ("RELU6", "uint8"), ("RELU_N1_TO_1", "int8"), ("RELU6", "int8")],
)
def test_a_relu_between_two_quantizations(tmp_path, op, dtype):
    """RELU, RELU6, RELU_N1_TO_1 whose output is quantized apart from its input: requantized
    as TFLite's QuantizedReluX (through dequantize -> clip -> quantize: 1 LSB off on up to 12 %
    of the elements)."""
    zp = (-3, 10) if dtype == "int8" else (130, 90)
    tensors = [Tensor("x", (1, 16, 16, 1), dtype, quant=(0.05, zp[0])),
               Tensor("y", (1, 16, 16, 1), dtype, quant=(0.03, zp[1]))]  # fmt: skip
    path = write(tmp_path / "relu.tflite", tensors, [Op(op, [0], [1])], [0], [1])
    model = load_model(path)
    assert model.integer_ops == {op: 1}, model.integer_ops
    info = np.iinfo(dtype)
    every = np.arange(info.min, info.max + 1).astype(dtype).reshape(1, 16, 16, 1)
    (want,) = LiteRTModel(path, 1, reference_kernels=True)([every])
    np.testing.assert_array_equal(run_untuned(model, [every]), want)
