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

from .litert import LiteRTModel
from .mediapipe_ops import NUMPY_REFERENCES, CustomCall
from .substitute import custom_name, pack, schema


class LiteRTWithNumPyOps:
    """A reference callable like LiteRTModel, for a model (flatbuffer bytes) whose custom ops
    in NUMPY_REFERENCES (by name and version) run in NumPy; `replaced` counts them. The rest
    runs on LiteRT's builtin kernels, or on its reference kernels with `reference_kernels`."""

    def __init__(
        self,
        buf: bytes,
        input_shapes: list[tuple[int, ...]] | None = None,
        reference_kernels: bool = False,
    ):
        model = schema().ModelT.InitFromPackedBuf(buf, 0)
        graph = model.subgraphs[0]
        self.ops, kept = [], []
        for op in graph.operators:
            name = custom_name(model, op)
            key = (name, model.operatorCodes[op.opcodeIndex].version)
            if key in NUMPY_REFERENCES:
                raw = b"" if op.customOptions is None else bytes(op.customOptions)
                outs = [int(t) for t in op.outputs]
                shapes = tuple(tuple(int(d) for d in graph.tensors[t].shape) for t in outs)
                call = CustomCall(name, raw, shapes)
                self.ops.append((NUMPY_REFERENCES[key], call, list(op.inputs), outs))
            else:
                kept.append(op)
        self.replaced = Counter(call.name for _, call, *_ in self.ops)
        self.shapes = {t: s for _, call, _, outs in self.ops for t, s in zip(outs, call.out_shapes)}
        self.fed = list(self.shapes)
        self.read = sorted({t for *_, ins, _ in self.ops for t in ins} - set(self.fed))
        self.n_outputs = len(graph.outputs)
        graph.operators = kept
        graph.inputs = [*graph.inputs, *self.fed]
        graph.outputs = [*graph.outputs, *self.read]
        shapes = list(input_shapes or [tuple(graph.tensors[t].shape) for t in graph.inputs])
        shapes = shapes[: len(graph.inputs) - len(self.fed)]
        shapes += [self.shapes[t] for t in self.fed]
        self.litert = LiteRTModel(
            pack(model), 1, builtin_kernels=True, input_shapes=shapes,
            reference_kernels=reference_kernels,
        )  # fmt: skip

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        values = {t: np.zeros(shape, np.float32) for t, shape in self.shapes.items()}
        for _ in range(len(self.ops) + 2):
            outputs = self.litert([*inputs, *(values[t] for t in self.fed)])
            known = dict(zip(self.read, outputs[self.n_outputs :]))
            new = {}
            for reference, call, ins, outs in self.ops:  # in the model's order
                args = [new[t] if t in new else known.get(t, values.get(t)) for t in ins]
                new |= dict(zip(outs, reference(args, call)))
            if all(np.array_equal(new[t], values[t]) for t in self.fed):
                break
            values = new
        return outputs[: self.n_outputs]
