"""Dynamic-range quantized models: int8 weights of float ops imported as float32 constants.

The TFLite converter's default optimization without a representative dataset keeps
activations float and stores the weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, ...
as int8 with scales. LiteRT runs such ops with hybrid kernels: each inference quantizes the
activation to int8 on the fly, multiplies int8 x int8 and scales the sums back to float.
edgetune imports the weights dequantized, (q - zero_point) * scale per channel in float32 as
LiteRT's DEQUANTIZE computes it, and runs the ops as float ops: the outputs are those of the
float model with the quantized weights (they are checked against LiteRT on such a copy,
oracle/dequantized.py), and differ from LiteRT's hybrid kernels by the rounding of their
on-the-fly activation quantization (docs/models.md, "Dynamic-range models").
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTIZED_WEIGHT_TYPES = {3: np.uint8, 9: np.int8}  # tflite TensorType UINT8, INT8
FLOAT32 = 0  # tflite TensorType


def dequantized_weights(subgraph: Any, model: Any, op_name: Any) -> dict[int, np.ndarray]:
    """Tensor index -> float32 value of every quantized int8/uint8 constant the subgraph's
    float ops take: ops other than DEQUANTIZE with a float32 run-time input and no quantized
    one (not, e.g., the int8 initial value an int8 model's ASSIGN_VARIABLE stores through its
    resource handle). `op_name(op)` names an operator."""
    weights: set[int] = set()
    excluded: set[int] = set()
    for i in range(subgraph.OperatorsLength()):
        op = subgraph.Operators(i)
        indices = [int(t) for t in (op.InputsAsNumpy() if op.InputsLength() else []) if t >= 0]
        constants = [t for t in indices if _quantized_constant(subgraph, model, t)]
        runtime = [t for t in indices if not _constant(subgraph, model, t)]
        types = {subgraph.Tensors(t).Type() for t in runtime}
        float_op = (
            op_name(op) != "DEQUANTIZE"
            and FLOAT32 in types
            and not any(_quantized(subgraph.Tensors(t)) for t in runtime)
        )
        (weights if float_op else excluded).update(constants)
    return {t: dequantize(subgraph.Tensors(t), model) for t in sorted(weights - excluded)}


def _constant(subgraph: Any, model: Any, index: int) -> bool:
    buffer = model.Buffers(subgraph.Tensors(index).Buffer())
    return bool(buffer.DataLength())


def _quantized(tensor: Any) -> bool:
    q = tensor.Quantization()
    return q is not None and q.ScaleLength() > 0 and tensor.Type() in QUANTIZED_WEIGHT_TYPES


def _quantized_constant(subgraph: Any, model: Any, index: int) -> bool:
    return _quantized(subgraph.Tensors(index)) and _constant(subgraph, model, index)


def dequantize(tensor: Any, model: Any) -> np.ndarray:
    """A quantized constant's float32 value: (q - zero_point) * scale, per channel along the
    tensor's quantized dimension when it has several scales (LiteRT's DEQUANTIZE)."""
    q = tensor.Quantization()
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
    values = np.frombuffer(raw.tobytes(), QUANTIZED_WEIGHT_TYPES[tensor.Type()]).reshape(shape)
    scale = q.ScaleAsNumpy().astype(np.float32)
    zero = q.ZeroPointAsNumpy().astype(np.int32) if q.ZeroPointLength() else np.zeros(1, np.int32)
    if scale.size > 1:
        axis = q.QuantizedDimension()
        broadcast = [1] * len(shape)
        broadcast[axis] = -1
        scale = scale.reshape(broadcast)
        zero = np.broadcast_to(zero, (scale.size,)).reshape(broadcast)
    return ((values.astype(np.int32) - zero).astype(np.float32) * scale).astype(np.float32)


class _FloatTensor:
    """A tflite Tensor seen as float32 and unquantized (everything else as the tensor)."""

    def __init__(self, tensor: Any):
        self._tensor = tensor

    def Type(self) -> int:  # noqa: N802 - the tflite accessor it replaces
        return FLOAT32

    def Quantization(self) -> None:  # noqa: N802
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tensor, name)


class _FloatBuffer:
    """A tflite Buffer holding a float32 array's bytes."""

    def __init__(self, value: np.ndarray):
        self._data = np.frombuffer(np.ascontiguousarray(value).tobytes(), np.uint8)

    def DataAsNumpy(self) -> np.ndarray:  # noqa: N802
        return self._data

    def DataLength(self) -> int:  # noqa: N802
        return self._data.size

    def Offset(self) -> int:  # noqa: N802 - data inline, not past the flatbuffer
        return 0


class DequantizedWeights:
    """Mixin for OperatorConverter: the quantized weights of float ops (`dequantized_weights`)
    are seen as float32 constants, by the converters and by the importer's dynamic-range
    check alike, so the ops convert as in a float model."""

    def get_tensors(self, tensors_idx_list: Any) -> list:
        tensors = super().get_tensors(tensors_idx_list)
        weights = self._dequantized()
        if not weights:
            return tensors
        for wrapper in tensors:
            value = weights.get(int(wrapper.tensor_idx))
            if value is not None:
                wrapper.tensor, wrapper.buffer = _FloatTensor(wrapper.tensor), _FloatBuffer(value)
                wrapper.qnn_params = None
        return tensors

    def _dequantized(self) -> dict[int, np.ndarray]:
        if not hasattr(self, "_weights"):
            self._weights = {}
            if self.model is not None and self.subgraph is not None:
                self._weights = dequantized_weights(self.subgraph, self.model, self.get_op_code_str)
        return self._weights
