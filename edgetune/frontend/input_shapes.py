"""Dynamic (-1) input dimensions: fixed at build time from `--input-shape NAME=D0,D1,...`.

TFLite stores a model's declared shape (`shape_signature`, -1 where dynamic) beside the shape
its interpreter allocates by default (`shape`, 1 where dynamic). A dynamic batch dimension
(first axis) takes that default, as LiteRT does; any other dynamic dimension needs a shape.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from ..errors import InputError, ModelError
from .model_info import ModelInfo

MAX_ELEMENTS = 2**31 - 1  # a tensor's elements, indexed by int32 in TVM's kernels


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`NAME=1,224,224,3` -> ("NAME", (1, 224, 224, 3)); InputError naming the bad part."""
    name, sep, dims = text.rpartition("=")
    try:
        shape = tuple(int(d) for d in dims.split(","))
    except ValueError:
        shape = ()
    if not sep or not name or not shape or min(shape) < 1:
        raise InputError(
            f"--input-shape {text!r}: expected NAME=D0,D1,... with positive sizes, e.g. "
            "input=1,224,224,3"
        )
    if math.prod(shape) > MAX_ELEMENTS:
        raise InputError(
            f"--input-shape {text!r}: {math.prod(shape):,} elements, more than one tensor may "
            f"hold here ({MAX_ELEMENTS:,}: TVM's kernels index with 32-bit integers)"
        )
    return name, shape


def _signature(sg: Any, index: int) -> tuple[int, ...]:
    t = sg.Tensors(index)
    if t.ShapeSignatureLength():
        return tuple(int(d) for d in t.ShapeSignatureAsNumpy())
    return tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()


def _fits(signature: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    return len(signature) == len(shape) and all(s in (-1, d) for s, d in zip(signature, shape))


def fix_input_shapes(
    model: Any, info: ModelInfo, shapes: dict[str, tuple[int, ...]], path: str | Path
) -> ModelInfo:
    """`info` with every input's shape static: from `shapes`, else the default shape where only
    the batch is dynamic. ModelError naming the inputs still dynamic, or a shape that does not
    fit its input's signature."""
    sg = model.Subgraphs(0)
    names = [t.name for t in info.inputs]
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise InputError(f"--input-shape names {', '.join(unknown)}; the model's inputs: {names}")
    fixed, dynamic = [], []
    for tensor, index in zip(info.inputs, sg.InputsAsNumpy()):
        sig = _signature(sg, int(index))
        shape = shapes.get(tensor.name)
        if shape is not None and not _fits(sig, shape):
            raise InputError(
                f"--input-shape {tensor.name}={','.join(map(str, shape))} does not fit the "
                f"input's declared shape {list(sig)}"
            )
        if shape is None and -1 in sig[1:]:
            dynamic.append(f"{tensor.name} {list(sig)}")
        fixed.append(dataclasses.replace(tensor, shape=shape or tensor.shape))
    if dynamic:
        raise ModelError(
            f"{path}: dynamic input dimensions (-1) in {'; '.join(dynamic)}: fix them with "
            "--input-shape NAME=D0,D1,... (or give .npy inputs of that shape)"
        )
    return dataclasses.replace(info, inputs=tuple(fixed))
