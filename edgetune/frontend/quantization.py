"""A model's quantization kind, and the quantized models edgetune cannot compile, reported
as one line naming the op(s)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import ModelError
from ..quant import INTEGER_OPS
from .tflite_schema import TFLITE_DTYPES, op_name

SUPPORTED = (
    "float models, dynamic-range models (int8 weights, float activations; run in float) and "
    "full-integer int8/uint8 models (int8/uint8 activations and weights); "
    f"integer kernels: {', '.join(INTEGER_OPS)}"
)


def _listing(ops: Counter) -> str:
    return ", ".join(f"{op} x{n}" if n > 1 else op for op, n in sorted(ops.items()))


# The activation's input position where it is not the first (TRANSPOSE_CONV: output shape,
# weights, activation, bias).
ACTIVATION_INPUT = {"TRANSPOSE_CONV": 2}


def _activation(op: str, inputs: list[tuple[int, str, bool, bool]]) -> str:
    """The dtype of an op's activation input ("" if it has none or it is a constant, as the
    int8 weights a dynamic-range model's DEQUANTIZE reads)."""
    position = ACTIVATION_INPUT.get(op, 0)
    return next((d for pos, d, _, const in inputs if pos == position and not const), "")


def quantization_kind(model: Any) -> str:
    """float, int8 (full-integer), uint8, int16 (activations) or dynamic-range."""
    act_types: set[str] = set()
    weight_quantized = False
    for op, inputs in _op_inputs(model):
        act_types.add(_activation(op, inputs))
        position = ACTIVATION_INPUT.get(op, 0)
        if any(q and d in ("int8", "uint8") for pos, d, q, _ in inputs if pos != position):
            weight_quantized = True
    if "int16" in act_types:
        return "int16"
    if act_types & {"int8", "uint8"}:
        return "uint8" if "uint8" in act_types and "int8" not in act_types else "int8"
    if weight_quantized:
        return "dynamic-range"
    return "float"


def _op_inputs(model: Any):
    """(op name, [(input position, dtype, quantized, constant)]) for every operator of every
    subgraph (a WHILE's body too: a GRU's dynamic-range FULLY_CONNECTED inside one made the
    model look float)."""
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.OperatorsLength()):
            op = sg.Operators(i)
            inputs = []
            for pos, idx in enumerate(op.InputsAsNumpy() if op.InputsLength() else []):
                if idx < 0:
                    continue
                t = sg.Tensors(int(idx))
                q = t.Quantization()
                quantized = q is not None and q.ScaleLength() > 0
                constant = bool(model.Buffers(t.Buffer()).DataLength())
                inputs.append((pos, TFLITE_DTYPES.get(t.Type(), "?"), quantized, constant))
            yield op_name(model, op), inputs


def check_quantization(model: Any, quantization: str, path: str | Path) -> None:
    """Raise ModelError for int16 models and unsupported quantized ops. Dynamic-range models
    import with their weights dequantized (converters/dynamic_range.py)."""
    from .converters import supported_quantized_ops

    if quantization in ("float", "dynamic-range"):
        return
    offenders: Counter = Counter()
    if quantization == "int16":
        for op, inputs in _op_inputs(model):
            if _activation(op, inputs) == "int16":
                offenders[op] += 1
        raise ModelError(
            f"{path}: int16 activations (16x8 quantization) in {_listing(offenders)} are not "
            f"supported; edgetune compiles {SUPPORTED}"
        )
    _check_zero_points(model, path)
    known = supported_quantized_ops()
    for op, inputs in _op_inputs(model):
        if op not in known and any(q for _, _, q, _ in inputs):
            offenders[op] += 1
    if offenders:
        raise ModelError(
            f"{path}: quantized {_listing(offenders)} not supported; integer kernels: "
            f"{', '.join(INTEGER_OPS)}; {len(known) - len(INTEGER_OPS)} other quantized ops "
            "(QUANTIZE, SOFTMAX, RESHAPE, MAX_POOL_2D, ...) run through TVM's "
            "dequantize/float/quantize import"
        )


ZERO_POINT_RANGES = {"int8": (-128, 127), "uint8": (0, 255)}


def _check_zero_points(model: Any, path: str | Path) -> None:
    """Raise ModelError naming the first int8/uint8 tensor whose zero point its type cannot
    hold (TVM would fail on it deep inside the build)."""
    for s in range(model.SubgraphsLength()):
        sg = model.Subgraphs(s)
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            dtype, q = TFLITE_DTYPES.get(t.Type()), t.Quantization()
            if dtype not in ZERO_POINT_RANGES or q is None or not q.ZeroPointLength():
                continue
            lo, hi = ZERO_POINT_RANGES[dtype]
            bad = [int(z) for z in q.ZeroPointAsNumpy() if not lo <= z <= hi]
            if bad:
                name = t.Name().decode(errors="replace")
                raise ModelError(
                    f"{path}: tensor '{name}' is {dtype} with zero point {bad[0]}, outside "
                    f"[{lo}, {hi}]: the model's quantization is invalid"
                )
