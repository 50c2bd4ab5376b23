"""A whole-model reference for models whose custom ops LiteRT cannot run and that have no
builtin equivalent: LiteRT runs everything else, the custom ops run in NumPy (mediapipe_ops).

The model is cut at those ops (a copy, for the reference only): each custom op is removed, its
outputs become extra model inputs and its inputs extra model outputs. A call runs LiteRT, then
the NumPy ops on what it produced, and again with their results, until they stop changing (a
graph without cycles settles within one pass per custom op, plus one).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..frontend.converters.mediapipe import custom_options
from .litert import LiteRTModel
from .mediapipe_ops import NUMPY_REFERENCES
from .substitute import custom_name, pack, schema


class LiteRTWithNumPyOps:
    """A reference callable like LiteRTModel, for a model (flatbuffer bytes) whose custom ops
    in NUMPY_REFERENCES run in NumPy; `replaced` counts them."""

    def __init__(self, buf: bytes, input_shapes: list[tuple[int, ...]] | None = None):
        model = schema().ModelT.InitFromPackedBuf(buf, 0)
        graph = model.subgraphs[0]
        self.ops, kept = [], []
        for op in graph.operators:
            name = custom_name(model, op)
            if name in NUMPY_REFERENCES and model.operatorCodes[op.opcodeIndex].version == 2:
                raw = b"" if op.customOptions is None else bytes(op.customOptions)
                options = custom_options(raw)
                shape = tuple(int(d) for d in graph.tensors[op.outputs[0]].shape)
                self.ops.append((name, list(op.inputs), int(op.outputs[0]), options, shape))
            else:
                kept.append(op)
        self.replaced = Counter(name for name, *_ in self.ops)
        self.fed = [out for _, _, out, _, _ in self.ops]
        self.read = sorted({t for _, ins, *_ in self.ops for t in ins} - set(self.fed))
        self.n_outputs = len(graph.outputs)
        graph.operators = kept
        graph.inputs = [*graph.inputs, *self.fed]
        graph.outputs = [*graph.outputs, *self.read]
        shapes = list(input_shapes or [tuple(graph.tensors[t].shape) for t in graph.inputs])
        shapes = shapes[: len(graph.inputs) - len(self.fed)]
        shapes += [shape for *_, shape in self.ops]
        self.litert = LiteRTModel(pack(model), 1, builtin_kernels=True, input_shapes=shapes)

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        values = {out: np.zeros(shape, np.float32) for _, _, out, _, shape in self.ops}
        for _ in range(len(self.ops) + 2):
            outputs = self.litert([*inputs, *(values[t] for t in self.fed)])
            known = dict(zip(self.read, outputs[self.n_outputs :]))
            new = {}
            for name, ins, out, options, shape in self.ops:  # in the model's order
                args = [new[t] if t in new else known.get(t, values.get(t)) for t in ins]
                new[out] = NUMPY_REFERENCES[name](args, options, shape)
            if all(np.array_equal(new[t], values[t]) for t in self.fed):
                break
            values = new
        return outputs[: self.n_outputs]
