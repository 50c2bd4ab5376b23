"""Shape arithmetic evaluated while importing.

Graphs exported from TensorFlow often compute sizes from their input's shape: tf.signal framing
(SHAPE -> STRIDED_SLICE -> REDUCE_PROD -> FLOOR_DIV -> PACK -> SLICE), Keras reshapes of a
dynamic batch. Stock TVM 0.27 converts those ops to Relax tensor ops and then needs the result
as a Python constant (SLICE's size, RESHAPE's shape, FILL's dims): TypeError 'a bytes-like
object is required, not int'. The input shapes are static once imported (`fix_input_shapes`),
so every integer op whose inputs are all known is evaluated here in NumPy instead, with
TFLite's semantics, and its result becomes a constant of the graph (the converter's prefetched
values, which TVM's own converters read like constant buffers). SHAPE is known when its input's
imported shape is static; ops with float or large outputs keep their stock converters.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_ELEMENTS = 4096  # larger results are data, not shapes: converted as usual

# (converter, op, input values) -> the output's value (a list: one per output; None: not folded)
Fold = Callable[[Any, Any, list[np.ndarray]], np.ndarray | list[np.ndarray] | None]


def _options(op: Any, cls_name: str) -> Any:
    """The op's builtin options as `tflite.<cls_name>` (None: the op has none)."""
    import importlib

    if not op.BuiltinOptionsType():
        return None
    cls = getattr(importlib.import_module(f"tflite.{cls_name}"), cls_name)
    options = cls()
    options.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    return options


def _no_activation(op: Any, cls_name: str) -> bool:
    options = _options(op, cls_name)
    return options is None or options.FusedActivationFunction() == 0


def _binary(fn: Callable, cls_name: str | None = None, nonzero_rhs: bool = False) -> Fold:
    def fold(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray | None:
        if cls_name and not _no_activation(op, cls_name):
            return None
        if nonzero_rhs and np.any(v[1] == 0):
            return None
        return fn(v[0], v[1])

    return fold


def _strided_slice(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray | None:
    """TFLite STRIDED_SLICE with begin/end masks, shrink_axis and offset (no ellipsis or new
    axes)."""
    o = _options(op, "StridedSliceOptions")
    if o is None or o.EllipsisMask() or o.NewAxisMask():
        return None
    data, begin, end, strides = v
    index: list[Any] = []
    for i, (b, e, s) in enumerate(zip(begin.tolist(), end.tolist(), strides.tolist())):
        if o.ShrinkAxisMask() >> i & 1:
            index.append(b)
            continue
        if o.Offset():
            e = b + e
        index.append(
            slice(None if o.BeginMask() >> i & 1 else b, None if o.EndMask() >> i & 1 else e, s)
        )
    return np.asarray(data[tuple(index)])


def _slice(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray:
    data, begin, size = v
    index = [slice(b, None if s == -1 else b + s) for b, s in zip(begin.tolist(), size.tolist())]
    return data[tuple(index)]


def _reduce(fn: Callable) -> Fold:
    def fold(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray:
        options = _options(op, "ReducerOptions")
        keep = bool(options.KeepDims()) if options else False
        axes = tuple(int(a) % max(v[0].ndim, 1) for a in np.atleast_1d(v[1]))
        return fn(v[0], axis=axes, keepdims=keep)

    return fold


def _pack(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray:
    options = _options(op, "PackOptions")
    return np.stack(v, axis=options.Axis() if options else 0)


def _concatenation(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray | None:
    if not _no_activation(op, "ConcatenationOptions"):
        return None
    options = _options(op, "ConcatenationOptions")
    return np.concatenate(v, axis=options.Axis() if options else 0)


def _reshape(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray | None:
    if len(v) == 2:
        shape = v[1].reshape(-1).tolist()
    else:
        options = _options(op, "ReshapeOptions")
        if options is None:
            return None
        shape = options.NewShapeAsNumpy().tolist()
    return v[0].reshape(shape)


def _squeeze(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray:
    options = _options(op, "SqueezeOptions")
    dims = options.SqueezeDimsAsNumpy().tolist() if options and options.SqueezeDimsLength() else []
    return np.squeeze(v[0], axis=tuple(dims)) if dims else np.squeeze(v[0])


def _gather(conv: Any, op: Any, v: list[np.ndarray]) -> np.ndarray | None:
    options = _options(op, "GatherOptions")
    if options is not None and options.BatchDims():
        return None
    return np.take(v[0], v[1], axis=options.Axis() if options else 0)


def _split_v(conv: Any, op: Any, v: list[np.ndarray]) -> list[np.ndarray]:
    data, sizes, axis = v[0], v[1].reshape(-1).tolist(), int(v[2].reshape(-1)[0])
    if -1 in sizes:
        sizes[sizes.index(-1)] = data.shape[axis] - (sum(sizes) + 1)
    return np.split(data, np.cumsum(sizes)[:-1], axis=axis)


def _split(conv: Any, op: Any, v: list[np.ndarray]) -> list[np.ndarray]:
    options = _options(op, "SplitOptions")
    return np.split(v[1], options.NumSplits(), axis=int(v[0].reshape(-1)[0]))


FOLDS: dict[str, Fold] = {
    "SPLIT_V": _split_v,
    "SPLIT": _split,
    "STRIDED_SLICE": _strided_slice,
    "SLICE": _slice,
    "GATHER": _gather,
    "REDUCE_PROD": _reduce(np.prod),
    "SUM": _reduce(np.sum),
    "REDUCE_MAX": _reduce(np.max),
    "REDUCE_MIN": _reduce(np.min),
    "ADD": _binary(np.add, "AddOptions"),
    "SUB": _binary(np.subtract, "SubOptions"),
    "MUL": _binary(np.multiply, "MulOptions"),
    "FLOOR_DIV": _binary(np.floor_divide, nonzero_rhs=True),
    "FLOOR_MOD": _binary(np.mod, nonzero_rhs=True),
    "MAXIMUM": _binary(np.maximum),
    "MINIMUM": _binary(np.minimum),
    "PACK": _pack,
    "CONCATENATION": _concatenation,
    "RESHAPE": _reshape,
    "EXPAND_DIMS": lambda conv, op, v: np.expand_dims(v[0], int(v[1].reshape(-1)[0])),
    "SQUEEZE": _squeeze,
    "CAST": lambda conv, op, v: v[0],  # the result takes the output tensor's type below
    "RANGE": lambda conv, op, v: np.arange(v[0].item(), v[1].item(), v[2].item()),
    # a loop's condition on its step counter (converters/loops.py)
    "LESS": _binary(np.less),
    "LESS_EQUAL": _binary(np.less_equal),
    "GREATER": _binary(np.greater),
    "GREATER_EQUAL": _binary(np.greater_equal),
    "EQUAL": _binary(np.equal),
    "NOT_EQUAL": _binary(np.not_equal),
    "LOGICAL_AND": _binary(np.logical_and),
    "LOGICAL_OR": _binary(np.logical_or),
    "LOGICAL_NOT": lambda conv, op, v: np.logical_not(v[0]),
}


class ShapeFolding:
    """Mixin for OperatorConverter: integer ops on known values (constants, static shapes)
    evaluated at import, their results prefetched constants; tensor shapes as imported, not as
    declared."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.convert_map |= {
            name: functools.partial(self._fold_or_convert, fold, self.convert_map[name])
            for name, fold in {**FOLDS, "SHAPE": None}.items()
            if name in self.convert_map
        }

    def _fold_or_convert(self, fold: Fold | None, stock: Callable, op: Any) -> Any:
        """The op's outputs as prefetched constants (None: no Relax expression) when its inputs
        are known and the results are small integer tensors; else the stock converter's."""
        outputs = self.get_output_tensors(op)
        inputs = self.get_input_tensors(op)
        if fold is None:  # SHAPE
            folded = self._static_shape(inputs[0])
        else:
            values = [self._known_value(t) for t in inputs]
            folded = None
            if all(x is not None for x in values):
                with np.errstate(all="ignore"):
                    folded = fold(self, op, values)
        if folded is None:
            return stock(op=op)
        results = folded if isinstance(folded, list) else [folded]
        dtypes = [np.dtype(self.get_tensor_type_as_numpy(t)) for t in outputs]
        if len(results) != len(outputs) or any(
            d.kind not in "iub" or np.size(r) > MAX_ELEMENTS for d, r in zip(dtypes, results)
        ):
            return stock(op=op)
        for tensor, result, dtype in zip(outputs, results, dtypes):
            self.set_prefetched_node(tensor.tensor_idx, np.asarray(result).astype(dtype))
        return None

    def _known_value(self, tensor: Any) -> np.ndarray | None:
        """A tensor's value when known at import: folded, or a constant buffer."""
        if self.is_prefetched(tensor.tensor_idx):
            return np.asarray(self.get_prefetched_node(tensor.tensor_idx))
        if self.has_expr(tensor.tensor_idx):
            return None
        if tensor.tensor_idx < 0:  # an omitted optional input
            return None
        if tensor.buffer.DataLength():
            return self.get_tensor_value(tensor)
        shape = tensor.tensor.ShapeAsNumpy() if tensor.tensor.ShapeLength() else None
        if shape is not None and 0 in shape.tolist():  # an empty constant has no data
            return np.zeros(shape, self.get_tensor_type_as_numpy(tensor))
        return None

    def _static_shape(self, tensor: Any) -> np.ndarray | None:
        """The imported shape of a tensor, when every dimension is a number."""
        known = self._known_value(tensor)
        if known is not None:
            return np.asarray(known.shape)
        if not self.has_expr(tensor.tensor_idx):
            return None
        shape = getattr(self.bb.normalize(self.get_expr(tensor.tensor_idx)).ty, "shape", None)
        dims = getattr(shape, "values", None)
        if dims is None or not all(hasattr(d, "value") for d in dims):
            return None
        if self._is_tflite_complex64_type(tensor.tensor.Type()):
            dims = dims[:-1]  # Relax holds complex values as [..., 2] (real, imaginary)
        return np.asarray([int(d.value) for d in dims])

    def get_tensor_shape(self, tensor_wrapper: Any) -> Any:
        """A converted tensor's shape as imported, else as the flatbuffer declares it. Shapes
        declared downstream of computed sizes are the converter's placeholders (tf.signal.stft
        frames: declared [1, 1, 1, 2048], imported [1, 511, 1, 2048]); converters that read
        them built kernels for one frame."""
        idx = tensor_wrapper.tensor_idx
        if self.is_prefetched(idx) or self.has_expr(idx):
            shape = self._static_shape(tensor_wrapper)
            if shape is not None:
                return shape
        return super().get_tensor_shape(tensor_wrapper)

    def _get_relax_tensor_shape(self, tensor: Any) -> tuple[int, ...]:
        """The Relax shape of a tensor (a complex one with its [..., 2] pair axis) from
        `get_tensor_shape`; the stock method reads the declared shape."""
        if not hasattr(tensor, "tensor_idx"):
            return super()._get_relax_tensor_shape(tensor)
        shape = tuple(int(d) for d in self.get_tensor_shape(tensor))
        return (*shape, 2) if self._is_tflite_complex64_type(tensor.tensor.Type()) else shape

    def get_tensor_value(self, tensor_wrapper: Any, is_sparse: bool = False) -> Any:
        """A folded tensor's value, else the stock lookup of its constant buffer."""
        if not is_sparse and self.is_prefetched(tensor_wrapper.tensor_idx):
            return np.asarray(self.get_prefetched_node(tensor_wrapper.tensor_idx))
        return super().get_tensor_value(tensor_wrapper, is_sparse)

    def get_expr(self, input_tensor_idx: int) -> Any:
        """A known tensor (folded, or a constant buffer) as a Relax constant, for converters
        that look every input up as an expression (stock FILL: KeyError on its constant
        value)."""
        if not self.has_expr(input_tensor_idx) and input_tensor_idx >= 0:
            (tensor,) = self.get_tensors([input_tensor_idx])
            value = self._known_value(tensor)
            if value is not None:
                return self.exp_tab.new_const(value, dtype=str(value.dtype))
        return super().get_expr(input_tensor_idx)
