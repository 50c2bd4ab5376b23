"""Write a dynamic-range quantized copy of a float .tflite, as TensorFlow's converter makes one.

The TFLite converter's default optimization without a representative dataset stores the
weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED with 1024 or more elements as int8,
symmetric in [-127, 127] with one scale per output channel (dimension 0; the depthwise conv's
channels are dimension 3), and keeps activations and biases float; LiteRT then runs those ops
with its hybrid kernels. This script applies that rule to a float model for benchmarks where
no converter-made dynamic-range model is at hand (`bench_host.py --models` takes the result);
say so wherever its models are timed.

  python scripts/dynamic_range_copy.py edgetune/models/mobilenet_v2_fp32.tflite mnv2_dr.tflite
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edgetune.oracle.substitute import pack, schema

MIN_ELEMENTS = 1024  # the converter's min_elements_for_weights
# op -> (weight input, quantized dimension, op version of its hybrid kernel)
HYBRID_OPS = {
    "CONV_2D": (1, 0, 2),
    "DEPTHWISE_CONV_2D": (1, 3, 6),
    "FULLY_CONNECTED": (1, 0, 3),
}


def dynamic_range_copy(buf: bytes) -> tuple[bytes, int]:
    """The model with its large float conv / FC weights quantized; how many tensors."""
    tfl = schema()
    model = tfl.ModelT.InitFromPackedBuf(buf, 0)
    names = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")}
    count = 0
    for graph in model.subgraphs:
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            kind = HYBRID_OPS.get(names.get(max(code.builtinCode, code.deprecatedBuiltinCode)))
            if kind is None:
                continue
            position, axis, version = kind
            tensor = graph.tensors[op.inputs[position]]
            data = model.buffers[tensor.buffer].data
            if tensor.type != tfl.TensorType.FLOAT32 or data is None:
                continue
            w = np.frombuffer(bytes(bytearray(data)), np.float32).reshape(tensor.shape)
            if w.size < MIN_ELEMENTS:
                continue
            others = tuple(d for d in range(w.ndim) if d != axis)
            scale = np.maximum(np.abs(w).max(axis=others, keepdims=True), 1e-12) / 127
            q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
            buffer = tfl.BufferT()
            buffer.data = np.frombuffer(q.tobytes(), np.uint8)
            model.buffers.append(buffer)
            quant = tfl.QuantizationParametersT()
            quant.scale = scale.reshape(-1).astype(np.float32).tolist()
            quant.zeroPoint = [0] * len(quant.scale)
            quant.quantizedDimension = axis
            tensor.buffer, tensor.type, tensor.quantization = (
                len(model.buffers) - 1,
                tfl.TensorType.INT8,
                quant,
            )
            code.version = max(code.version, version)
            count += 1
    used = {t.buffer for graph in model.subgraphs for t in graph.tensors}
    for index, buffer in enumerate(model.buffers):
        if index not in used:
            buffer.data = None  # a float weight replaced by its int8 copy
    return pack(model), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="a float .tflite")
    parser.add_argument("out", type=Path, help="the dynamic-range copy to write")
    args = parser.parse_args()
    data, count = dynamic_range_copy(args.model.read_bytes())
    args.out.write_bytes(data)
    print(f"{args.out}: {count} weight tensors quantized to int8 ({len(data)} bytes)")


if __name__ == "__main__":
    main()
