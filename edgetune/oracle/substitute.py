"""A LiteRT reference for models with MediaPipe custom ops.

LiteRT's Python package has no MediaPipe op resolver, so it cannot run such a model. Where a
custom op has an exact builtin equivalent, a copy of the flatbuffer (for the reference run
only) gets the builtins instead, and LiteRT runs that copy. The copy is written with the
flatbuffer object API LiteRT ships (`ai_edge_litert.schema_py_generated`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from ..errors import MissingPackage
from .litert import NOT_INSTALLED


def schema() -> Any:
    """LiteRT's TFLite flatbuffer schema with the object API (ModelT, OperatorT, ...)."""
    try:
        from ai_edge_litert import schema_py_generated
    except ImportError:
        raise MissingPackage(NOT_INSTALLED) from None
    return schema_py_generated


class _Graph:
    """One subgraph of a model being rewritten: new tensors, buffers and operator codes."""

    def __init__(self, schema: Any, model: Any, graph: Any):
        self.schema, self.model, self.graph = schema, model, graph

    def opcode(self, name: str) -> int:
        """The operator-code index of builtin `name`, added when the model has none."""
        code = getattr(self.schema.BuiltinOperator, name)
        for i, c in enumerate(self.model.operatorCodes):
            if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
                return i
        new = self.schema.OperatorCodeT()
        new.builtinCode, new.deprecatedBuiltinCode, new.version = code, min(code, 127), 1
        self.model.operatorCodes.append(new)
        return len(self.model.operatorCodes) - 1

    def tensor(self, name: str, shape: list[int], data: np.ndarray | None = None) -> int:
        """A new float32 tensor (or a constant of `data`'s int32/float32 type); its index."""
        tensor = self.schema.TensorT()
        tensor.name, tensor.shape = name, list(shape)
        tensor.type = self.schema.TensorType.FLOAT32
        if data is not None:
            types = {"int32": "INT32", "float32": "FLOAT32"}
            tensor.type = getattr(self.schema.TensorType, types[str(data.dtype)])
            buffer = self.schema.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), np.uint8)
            self.model.buffers.append(buffer)
            tensor.buffer = len(self.model.buffers) - 1
        self.graph.tensors.append(tensor)
        return len(self.graph.tensors) - 1

    def op(self, name: str, inputs: list[int], outputs: list[int], options: Any = None) -> Any:
        """A builtin operator; `options` is its `<Name>OptionsT` (type found by its name)."""
        op = self.schema.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = self.opcode(name), inputs, outputs
        if options is not None:
            kind = type(options).__name__.removesuffix("T")
            op.builtinOptionsType = getattr(self.schema.BuiltinOptions, kind)
            op.builtinOptions = options
        return op


def _transpose_conv_bias(g: _Graph, op: Any) -> list[Any]:
    """Convolution2DTransposeBias = TRANSPOSE_CONV to the custom op's output shape, then ADD of
    the bias. TRANSPOSE_CONV derives its padding from that output shape: for SAME it is
    MediaPipe's (k - (in - 1) % s - 1, half before), for VALID none (see
    frontend/converters/mediapipe.py for MediaPipe's own rule)."""
    data, weight, bias = op.inputs
    (out,) = op.outputs
    padding, stride_w, stride_h = np.frombuffer(bytes(op.customOptions), "<i4")[:3]
    shape = [int(d) for d in g.graph.tensors[out].shape]
    out_shape = g.tensor(f"{out}/output_shape", [4], np.array(shape, np.int32))
    conv = g.tensor(f"{out}/transpose_conv", shape)
    options = g.schema.TransposeConvOptionsT()
    options.padding = g.schema.Padding.SAME if padding == 1 else g.schema.Padding.VALID
    options.strideW, options.strideH = int(stride_w), int(stride_h)
    return [
        g.op("TRANSPOSE_CONV", [out_shape, weight, data], [conv], options),
        g.op("ADD", [conv, bias], [out], g.schema.AddOptionsT()),
    ]


# custom op name -> its builtin equivalent: (graph, custom op) -> the builtin ops replacing it
SUBSTITUTES: dict[str, Callable[[_Graph, Any], list[Any]]] = {
    "Convolution2DTransposeBias": _transpose_conv_bias,
}


def custom_ops(buf: bytes) -> Counter[str]:
    """How many times each custom op is called in the model (all subgraphs)."""
    import tflite

    from ..frontend.tflite_schema import op_name

    model = tflite.Model.GetRootAsModel(buf, 0)
    names = Counter()
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for i in range(graph.OperatorsLength()):
            name = op_name(model, graph.Operators(i))
            if name.startswith("CUSTOM:"):
                names[name.removeprefix("CUSTOM:")] += 1
    return names


def substitute_custom_ops(buf: bytes) -> tuple[bytes, Counter[str]]:
    """A copy of the model with every custom op in SUBSTITUTES replaced by its builtins, and
    how many of each were replaced (the model itself, unchanged, when none was)."""
    if not set(custom_ops(buf)) & set(SUBSTITUTES):
        return buf, Counter()
    tfl = schema()
    model = tfl.ModelT.InitFromPackedBuf(buf, 0)
    replaced: Counter[str] = Counter()
    for graph in model.subgraphs:
        g, ops = _Graph(tfl, model, graph), []
        for op in graph.operators:
            name = custom_name(model, op)
            if name in SUBSTITUTES:
                ops += SUBSTITUTES[name](g, op)
                replaced[name] += 1
            else:
                ops.append(op)
        graph.operators = ops
    return pack(model), replaced


def custom_name(model: Any, op: Any) -> str | None:
    """The custom op name of an operator (object API), None for a builtin."""
    code = model.operatorCodes[op.opcodeIndex]
    if max(code.builtinCode, code.deprecatedBuiltinCode) != schema().BuiltinOperator.CUSTOM:
        return None
    return (code.customCode or b"").decode()


def pack(model: Any) -> bytes:
    """The .tflite flatbuffer of an object-API model."""
    import flatbuffers

    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _counts(ops: Counter[str]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in sorted(ops.items()))


def describe_reference(
    substituted: Counter[str],
    in_numpy: Counter[str] | None = None,
    engine: str = "LiteRT",
    dequantized: int = 0,
) -> str:
    """The reference's name for a table: 'LiteRT', 'LiteRT (custom ops substituted: ...)',
    'LiteRT + NumPy (custom ops in NumPy: ...)' or both (`engine` instead of 'LiteRT');
    `dequantized` weight tensors of a dynamic-range model (oracle/dequantized) noted."""
    notes = [f"custom ops substituted: {_counts(substituted)}"] if substituted else []
    if dequantized:
        notes.append(f"{dequantized} int8 weight tensors dequantized")
    if in_numpy:
        notes.append(f"custom ops in NumPy: {_counts(in_numpy)}")
    name = f"{engine} + NumPy" if in_numpy else engine
    return f"{name} ({'; '.join(notes)})" if notes else name
