"""A float reference for dynamic-range models: LiteRT on a copy whose int8 weights are
dequantized, the arithmetic edgetune runs (frontend/converters/dynamic_range.py).

LiteRT's hybrid kernels quantize each activation on the fly, so they differ from any float
computation by that rounding (about 0.5 % of an output's range on a small conv net); a copy
of the model with the same float32 weights edgetune imports runs the same float arithmetic in
LiteRT, and is what edgetune's outputs are checked against.
"""

from __future__ import annotations

import numpy as np

from ..frontend.converters.dynamic_range import FLOAT32, dequantized_weights
from ..frontend.tflite_schema import op_name
from .substitute import pack, schema


def dequantize_weights(buf: bytes) -> tuple[bytes, int]:
    """A copy of the model `buf` with the quantized weights of its float ops as float32
    constants, and how many tensors changed (the model itself, unchanged, when none)."""
    import tflite

    model = tflite.Model.GetRootAsModel(buf, 0)
    graphs = [
        dequantized_weights(model.Subgraphs(s), model, lambda op: op_name(model, op))
        for s in range(model.SubgraphsLength())
    ]
    count = sum(len(weights) for weights in graphs)
    if not count:
        return buf, 0
    tfl = schema()
    copy = tfl.ModelT.InitFromPackedBuf(buf, 0)
    for graph, weights in zip(copy.subgraphs, graphs):
        for index, value in weights.items():
            buffer = tfl.BufferT()
            buffer.data = np.frombuffer(value.tobytes(), np.uint8)
            copy.buffers.append(buffer)
            tensor = graph.tensors[index]
            tensor.buffer, tensor.type, tensor.quantization = len(copy.buffers) - 1, FLOAT32, None
    return pack(copy), count
