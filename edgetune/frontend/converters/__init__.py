"""edgetune's TFLite converter: TVM 0.27's OperatorConverter with its broken converters fixed
and the ops it lacks added, in one place.

`converter_class()` builds (once, on first use: importing TVM is slow) a subclass of
`tvm.relax.frontend.tflite`'s OperatorConverter from the mixins below; `from_tflite` is given it
as `op_converter`. Each mixin holds one concern:

- `context.OperatorContext`: a failing converter's error names its operator (`ImportFailure`)
- `shape_folding.ShapeFolding`: integer shape arithmetic evaluated at import (sizes computed
  from the input's shape)
- `fourier.FourierTransforms`: RFFT2D as one fixed-schedule CPU kernel (stock: one ill-formed
  PrimFunc)
- `dynamic_range.DequantizedWeights`: dynamic-range models' int8 weights as float32 constants
- `loops.StaticLoops`: WHILE loops with a trip count known at import, unrolled
- `semantics.LiteRTSemantics`: converters whose stock output computes something else than
  LiteRT (options ignored: SOFTMAX's beta, GELU's approximation; fused activations)
- `quantized_moves.QuantizedDataMovement`: data-movement ops on int8/uint8 tensors
- `fixes.ImporterFixes`: converters that crash on valid models in stock TVM 0.27
- `space_batch.SpaceBatchMoves`: SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND (stock: fail at run time)
- `fusable.FusableForms`: converters whose stock output cannot fuse into its producer's kernel
- `variables.ResourceVariables`: resource variables as explicit state (`collecting_states`,
  `attach_states`)
- `mediapipe.MediaPipeOps`: MediaPipe's custom ops (`CUSTOM:Name`)
"""

from __future__ import annotations

import functools

from .context import ImportFailure, OperatorContext
from .dynamic_range import DequantizedWeights
from .fixes import ImporterFixes
from .fourier import FourierTransforms
from .fusable import FusableForms
from .loops import StaticLoops
from .mediapipe import VERSIONS as CUSTOM_OP_VERSIONS
from .mediapipe import MediaPipeOps
from .quantized_moves import QUANTIZED_MOVES, QuantizedDataMovement
from .semantics import LiteRTSemantics
from .shape_folding import ShapeFolding
from .space_batch import SpaceBatchMoves
from .variables import ResourceVariables, State, attach_states, collecting_states

MIXINS = (
    OperatorContext,
    ShapeFolding,
    FourierTransforms,
    DequantizedWeights,
    StaticLoops,
    LiteRTSemantics,
    QuantizedDataMovement,
    ImporterFixes,
    SpaceBatchMoves,
    FusableForms,
    ResourceVariables,
    MediaPipeOps,
)
# ops that only move int8/uint8 values (no arithmetic): allowed in quantized models
QUANTIZED_OK = QUANTIZED_MOVES | {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "CALL_ONCE"}


@functools.cache
def converter_class() -> type:
    """The OperatorConverter subclass edgetune imports TFLite models with."""
    from ...tvm_api import tflite_converter

    base = tflite_converter.OperatorConverter
    return type(
        "EdgetuneConverter",
        (*MIXINS, base),
        {"_SUPPORTED_QUANTIZED_OPS": base._SUPPORTED_QUANTIZED_OPS | QUANTIZED_OK},
    )


@functools.cache
def supported_ops() -> frozenset[str]:
    """Every op name (edgetune's spelling: builtins, `CUSTOM:Name`) the converter imports."""
    from tvm import relax

    return frozenset(converter_class()(None, None, None, relax.BlockBuilder()).convert_map)


def supported_quantized_ops() -> frozenset[str]:
    """Ops the converter accepts on int8/uint8 tensors."""
    return frozenset(converter_class()._SUPPORTED_QUANTIZED_OPS)


__all__ = [
    "CUSTOM_OP_VERSIONS",
    "QUANTIZED_MOVES",
    "ImportFailure",
    "State",
    "attach_states",
    "collecting_states",
    "converter_class",
    "supported_ops",
    "supported_quantized_ops",
]
