"""Read a .tflite file, describe it, and import it into Relax with TVM's TFLite frontend."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, ModelError
from ..paths import MODELS_DIR
from ..quant.float_requantization import FIXED_POINT, REQUANTIZATIONS
from .constant_arguments import bind_constant_arguments
from .converters import (
    ImportFailure,
    attach_states,
    collecting_states,
    converter_class,
    supported_ops,
)
from .input_shapes import fix_input_shapes, parse_input_shape
from .model_info import ModelInfo, TensorInfo
from .quantization import check_quantization, quantization_kind
from .tflite_schema import TFLITE_DTYPES, op_name


@dataclass
class Model:
    """An imported model: its Relax IRModule (weights inlined) and its metadata."""

    mod: Any  # tvm.IRModule
    info: ModelInfo
    path: Path
    integer_ops: dict[str, int] = field(default_factory=dict)  # op -> count rewritten to int8


def read_tflite(path: str | Path) -> tuple[Any, ModelInfo]:
    """Parse and validate a .tflite file; return the flatbuffer model and its metadata.

    Raises ModelError naming the problem for a missing, truncated or non-TFLite file.
    """
    import tflite

    path = Path(path)
    if path.is_dir():
        raise ModelError(f"{path}: is a directory, not a .tflite file")
    if path.exists() and not path.is_file():
        raise ModelError(f"{path}: not a regular file (a device, a pipe?), not a .tflite file")
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    try:
        buf = path.read_bytes()
    except OSError as err:
        raise ModelError(f"{path}: cannot read it ({err.strerror})") from None
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite model (no 'TFL3' flatbuffer identifier)")
    try:
        model = tflite.Model.GetRootAsModel(buf, 0)
        if model.SubgraphsLength() < 1:
            raise ModelError(f"{path}: TFLite model has no subgraph")
        info = _describe(model, path.stem, hashlib.sha256(buf).hexdigest())
        _check_buffers(model, len(buf))
    except ModelError:
        raise
    except Exception:  # flatbuffers raise IndexError/struct.error on truncation
        raise ModelError(
            f"{path}: damaged or truncated TFLite file ({len(buf)} bytes; the model's tables "
            "point past the end of the data)"
        ) from None
    return model, info


def _check_buffers(model: Any, size: int) -> None:
    """Touch every buffer so that a truncated file fails here, not deep inside the importer."""
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        if b.DataLength():
            b.DataAsNumpy()
        if b.Offset() and b.Offset() + b.Size() > size:
            raise ModelError("buffer past the end of file")


def _tensor_info(subgraph: Any, index: int) -> TensorInfo:
    t = subgraph.Tensors(index)
    q = t.Quantization()
    scale = zero_point = None
    if q is not None and q.ScaleLength() == 1:
        scale = float(q.ScaleAsNumpy()[0])
        zero_point = int(q.ZeroPointAsNumpy()[0])
    return TensorInfo(
        name=t.Name().decode(),
        shape=tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else (),
        dtype=TFLITE_DTYPES.get(t.Type(), f"tflite-type-{t.Type()}"),
        scale=scale,
        zero_point=zero_point,
    )


def _describe(model: Any, name: str, sha256: str) -> ModelInfo:
    sg = model.Subgraphs(0)
    ops = Counter(op_name(model, sg.Operators(i)) for i in range(sg.OperatorsLength()))
    inputs = tuple(_tensor_info(sg, int(i)) for i in sg.InputsAsNumpy())
    outputs = tuple(_tensor_info(sg, int(i)) for i in sg.OutputsAsNumpy())
    return ModelInfo(
        name=name,
        sha256=sha256,
        inputs=inputs,
        outputs=outputs,
        ops=dict(sorted(ops.items())),
        quantization=quantization_kind(model),
    )


def _unsupported_ops(model: Any, info: ModelInfo) -> dict[str, int]:
    known = supported_ops()
    return {op: n for op, n in info.ops.items() if op not in known}


def _one_line(err: BaseException, limit: int = 300) -> str:
    """An error's message on one line (TVM's span several: shapes, products, spans)."""
    text = " ".join(str(err).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _likely_cause(changed: dict[str, tuple[int, ...]], otherwise: str) -> str:
    """What an importer failure most likely means: input shapes set other than the model
    declares them (its own fixed shapes, e.g. a RESHAPE's, may not take them), else
    `otherwise`."""
    if not changed:
        return otherwise
    given = ", ".join(f"{n}={','.join(map(str, s))}" for n, s in changed.items())
    return (
        f"the input shapes given ({given}) do not fit the model's own fixed shapes; try the "
        "shapes it was exported for"
    )


def load_model(
    path: str | Path,
    integer_kernels: bool = True,
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    requantization: str = FIXED_POINT,
) -> Model:
    """Read, validate and import a TFLite model into a Relax IRModule (weights inlined).

    Quantized models are rewritten into integer kernels (`edgetune.quant`) unless
    `integer_kernels` is False, which keeps TVM's dequantize -> float op -> quantize import.
    `input_shapes` (input name -> shape) fixes dynamic (-1) input dimensions.
    `requantization`: how the integer convs requantize, FIXED_POINT (TFLite's reference
    kernels) or FP32 (XNNPACK's; `quant.float_requantization`).
    """
    import tvm
    from tvm import relax

    from ..quant import integerize
    from ..tvm_api import tflite_frontend

    if requantization not in REQUANTIZATIONS:
        raise ModelError(f"requantization {requantization!r}: one of {', '.join(REQUANTIZATIONS)}")
    tfl, info = read_tflite(path)
    unsupported = _unsupported_ops(tfl, info)
    if unsupported:
        listing = ", ".join(f"{op} x{n}" for op, n in unsupported.items())
        raise ModelError(
            f"{path}: unsupported TFLite operators: {listing}; `edgetune ops` lists the "
            "supported ones (docs/models.md): re-export the model without them, or split it "
            "there and run that part elsewhere"
        )
    check_quantization(tfl, info.quantization, path)
    declared = {t.name: tuple(t.shape) for t in info.inputs}
    changed = {n: s for n, s in (input_shapes or {}).items() if declared.get(n) != tuple(s)}
    info = fix_input_shapes(tfl, info, input_shapes or {}, path)
    try:
        with collecting_states() as states:
            mod = tflite_frontend.from_tflite(
                tfl,
                shape_dict={t.name: t.shape for t in info.inputs},
                op_converter=converter_class(),
            )
        mod = attach_states(mod, states)
    except ImportFailure as failure:
        err = failure.cause
        if isinstance(err, tvm.error.OpNotImplemented):
            raise ModelError(f"{path}: {failure.op}: {_one_line(err)}") from None
        raise ModelError(
            f"{path}: TVM's TFLite importer failed at {failure.op} ({type(err).__name__}: "
            f"{_one_line(err)}): "
            + _likely_cause(changed, "edgetune does not import this use of the op yet")
        ) from None
    except tvm.error.OpNotImplemented as err:
        raise ModelError(f"{path}: {str(err).strip().splitlines()[0]}") from None
    except Exception as err:  # noqa: BLE001 - a damaged graph the importer chokes on
        raise ModelError(
            f"{path}: TVM's TFLite importer failed ({type(err).__name__}: {_one_line(err)}): "
            + _likely_cause(changed, "the file may be damaged")
        ) from None
    mod, _ = relax.frontend.detach_params(mod)
    mod = bind_constant_arguments(mod)  # an IF's weights: constants in its branches
    info = _with_output_shapes(info, mod)
    info = dataclasses.replace(
        info,
        states=tuple(TensorInfo(s.name, s.initial.shape, str(s.initial.dtype)) for s in states),
        state_values=tuple(s.initial.tolist() for s in states),
    )
    integer_ops: dict[str, int] = {}
    if info.quantized and integer_kernels:
        mod, integer_ops = integerize(mod, requantization)
        info = dataclasses.replace(info, requantization=requantization)
    return Model(mod=mod, info=info, path=Path(path), integer_ops=integer_ops)


def _with_output_shapes(info: ModelInfo, mod: Any) -> ModelInfo:
    """The outputs' shapes as imported (dynamic output dimensions follow the inputs)."""
    ret = mod["main"].ret_ty
    fields = getattr(ret, "fields", None) or [ret]
    shapes = [tuple(int(d) for d in f.shape) for f in fields if getattr(f, "shape", None)]
    if len(shapes) < len(info.outputs):  # states follow the outputs
        return info
    outputs = tuple(dataclasses.replace(t, shape=s) for t, s in zip(info.outputs, shapes))
    return dataclasses.replace(info, outputs=outputs)


def find_model(name: str | Path) -> Path:
    """A model argument as a path: an existing file, or the name of a model shipped with
    edgetune (`edgetune/models/NAME.tflite`)."""
    path = Path(name)
    if path.exists() or path.suffix == ".tflite" or "/" in str(name):
        return path
    shipped = MODELS_DIR / f"{name}.tflite"
    if shipped.is_file():
        return shipped
    shipped_names = sorted(p.stem for p in MODELS_DIR.glob("*.tflite"))
    close = get_close_matches(str(name), shipped_names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise ModelError(
        f"model not found: {name} (a .tflite path or a shipped model name; {hint}shipped: "
        f"{', '.join(shipped_names)})"
    )


def requested_shapes(
    path: str | Path, texts: list[str] | None, npy_paths: list[str] | None
) -> dict[str, tuple[int, ...]]:
    """Input name -> shape from `--input-shape` texts, else from the .npy inputs' headers."""
    if texts:
        parsed = [parse_input_shape(t) for t in texts]
        names = [name for name, _ in parsed]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise InputError(f"--input-shape given more than once for {', '.join(twice)}")
        return dict(parsed)
    if not npy_paths:
        return {}
    shapes = {}
    for tensor, npy in zip(read_tflite(path)[1].inputs, npy_paths):
        # a bad file is reported, naming it, where the inputs are read
        with contextlib.suppress(OSError, ValueError, AttributeError):
            shape = tuple(np.load(npy, mmap_mode="r", allow_pickle=False).shape)
            if len(shape) == len(tensor.shape):  # not [N, ...] (N steps), nor another rank
                shapes[tensor.name] = shape
    return shapes


def random_inputs(info: ModelInfo, seed: int = 0) -> list[np.ndarray]:
    """Deterministic random inputs matching the model's input tensors."""
    rng = np.random.default_rng(seed)
    arrays = []
    for t in info.inputs:
        if t.dtype.startswith("float"):
            arrays.append(rng.uniform(-1, 1, size=t.shape).astype(t.dtype))
        else:
            lo, hi = np.iinfo(t.dtype).min, np.iinfo(t.dtype).max
            arrays.append(rng.integers(lo, hi, size=t.shape, endpoint=True).astype(t.dtype))
    return arrays
