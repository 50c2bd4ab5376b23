"""The reference a model's outputs are checked against (check_corpus, conformance, `ci`):
LiteRT without XNNPACK: TFLite's reference kernels for integer (int8/uint8) models, whose
arithmetic edgetune's integer kernels follow, the builtin kernels for the others; the model's
MediaPipe custom ops substituted by builtins (substitute) or, without a builtin equivalent,
run in NumPy between LiteRT runs (numpy_ops_reference); a dynamic-range model's int8 weights
dequantized (dequantized), as edgetune runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .dequantized import dequantize_weights
from .litert import LiteRTModel, ReferenceKernelsAbort
from .mediapipe_ops import NUMPY_REFERENCES
from .numpy_ops_reference import LiteRTWithNumPyOps
from .substitute import custom_ops, describe_reference, substitute_custom_ops


@dataclass
class Reference:
    run: Callable[[list[np.ndarray]], list[np.ndarray]]
    name: str  # for tables: "LiteRT", "LiteRT (custom ops substituted: ...)", "LiteRT + NumPy ..."
    numpy_ops: bool  # some ops ran in NumPy, not in LiteRT


def litert_reference(
    buf: bytes, input_shapes: list[tuple[int, ...]] | None = None, integer: bool = False
) -> Reference:
    """The reference for the model `buf` (one thread; TFLite's reference kernels when the model
    is `integer`, int8/uint8, else the builtin kernels). Raises ModelError when LiteRT cannot
    run it even so (a custom op with neither a builtin nor a NumPy version)."""
    content, substituted = substitute_custom_ops(buf)
    content, dequantized = dequantize_weights(content)
    if set(custom_ops(content)) & {name for name, _version in NUMPY_REFERENCES}:
        mixed = LiteRTWithNumPyOps(content, input_shapes, reference_kernels=integer)
        name = describe_reference(substituted, mixed.replaced, dequantized=dequantized)
        return Reference(mixed, name, True)
    engine = "LiteRT reference kernels" if integer else "LiteRT"
    try:
        litert = LiteRTModel(content, 1, True, input_shapes, reference_kernels=integer)
    except ReferenceKernelsAbort:  # judged by the builtin kernels, saying so
        litert = LiteRTModel(content, 1, True, input_shapes)
        engine = "LiteRT builtin kernels (TFLite's reference kernels abort on this model)"
    name = describe_reference(substituted, engine=engine, dequantized=dequantized)
    return Reference(litert, name, False)


def builtin_reference(buf: bytes, input_shapes: list[tuple[int, ...]] | None = None) -> Reference:
    """LiteRT's builtin kernels for an integer model: what its outputs are judged by where
    TFLite's reference kernels disagree with them (int8 SUM: conformance, `ci`)."""
    reference = litert_reference(buf, input_shapes, integer=False)
    return replace(reference, name=f"{reference.name} builtin kernels")
