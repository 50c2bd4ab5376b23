"""Quantized models edgetune cannot compile: one line naming the op and what is supported."""

from __future__ import annotations

import pytest
from conftest import set_operator_code
from tflite.BuiltinOperator import BuiltinOperator
from tflite.TensorType import TensorType

from edgetune.errors import ModelError
from edgetune.frontend import load_model
from edgetune.paths import MODELS_DIR


def _retype_activations(buf: bytes, new_type: int) -> bytes:
    """Give every int8 tensor without constant data (the activations) another TFLite type."""
    import tflite

    data = bytearray(buf)
    model = tflite.Model.GetRootAsModel(data, 0)
    sg = model.Subgraphs(0)
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        if t.Type() != TensorType.INT8 or model.Buffers(t.Buffer()).DataLength():
            continue
        field = t._tab.Offset(6)  # Tensor field 1: type (a byte)
        assert field, "tensor type is not stored explicitly"
        data[t._tab.Pos + field] = new_type
    return bytes(data)


def _op_code_index(name: str, op: int) -> int:
    import tflite

    model = tflite.Model.GetRootAsModel((MODELS_DIR / name).read_bytes(), 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == op:
            return i
    raise AssertionError(f"op {op} not in {name}")


def _load_error(tmp_path, data: bytes) -> str:
    path = tmp_path / "bad.tflite"
    path.write_bytes(data)
    with pytest.raises(ModelError) as err:
        load_model(path)
    message = str(err.value)
    assert "\n" not in message and "bad.tflite" in message
    return message


def test_int16_activations(tmp_path):
    data = _retype_activations(
        (MODELS_DIR / "probe_conv_int8.tflite").read_bytes(), TensorType.INT16
    )
    message = _load_error(tmp_path, data)
    assert "int16 activations" in message and "CONV_2D" in message
    assert "integer kernels: CONV_2D, DEPTHWISE_CONV_2D" in message


def test_unsupported_quantized_op(tmp_path):
    name = "tiny_int8.tflite"
    index = _op_code_index(name, BuiltinOperator.MEAN)
    data = set_operator_code(
        (MODELS_DIR / name).read_bytes(), index, BuiltinOperator.L2_NORMALIZATION
    )
    message = _load_error(tmp_path, data)
    assert "quantized L2_NORMALIZATION not supported" in message
    assert "AVERAGE_POOL_2D, MEAN" in message and "QUANTIZE" in message
