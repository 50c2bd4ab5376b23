"""A stand-in for a retrained model: the same network and shapes, other weights.

Users retune when a model is retrained; the records library reuses every task of such a model
(docs/search.md). This writes one from a `.tflite` without TensorFlow, for the library's tests
and `scripts/bench_retrained.py`: float weights scaled, int8 weights negated (their
quantization parameters kept), every other byte unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MIN_BYTES = 64  # buffers at least this large are weights (smaller ones: shapes, scalars)


def with_other_weights(src: str | Path, dst: str | Path, scale: float = 1.5) -> Path:
    """Copy `src` to `dst` with every float32 weight buffer times `scale` and every int8 one
    negated (clipped to -127..127); returns `dst`."""
    import tflite

    buf = bytearray(Path(src).read_bytes())
    model = tflite.Model.GetRootAsModel(buf, 0)
    changed: set[int] = set()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for i in range(graph.TensorsLength()):
            tensor = graph.Tensors(i)
            index, kind = tensor.Buffer(), tensor.Type()
            data = model.Buffers(index)
            n = data.DataLength()
            if index in changed or n < MIN_BYTES:
                continue
            start = data._tab.Vector(data._tab.Offset(4))
            if kind == tflite.TensorType.FLOAT32:
                weights = np.frombuffer(bytes(buf[start : start + n]), dtype=np.float32)
                buf[start : start + n] = (weights * np.float32(scale)).tobytes()
            elif kind == tflite.TensorType.INT8:
                weights = np.frombuffer(bytes(buf[start : start + n]), dtype=np.int8)
                buf[start : start + n] = (
                    np.clip(-weights.astype(np.int16), -127, 127).astype(np.int8).tobytes()
                )
            else:
                continue
            changed.add(index)
    Path(dst).write_bytes(bytes(buf))
    return Path(dst)
