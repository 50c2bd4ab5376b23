"""Tiny TFLite models written with the flatbuffers builder (the `tflite` package only reads).

Field slots follow tensorflow/lite/schema/schema.fbs. A model is one subgraph (control flow
bodies: more): tensors (constant ones carry data), operators by builtin name or `CUSTOM:Name`,
inputs and outputs by tensor index.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

TYPES = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6, "complex64": 8}
TYPES["int8"] = 9


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    data: np.ndarray | None = None  # constant
    # (scale, zero_point); a list of scales: per-channel along dimension `quant_axis`, zero
    # points 0
    quant: tuple[float | list[float], int] | None = None
    quant_axis: int = 0
    signature: tuple[int, ...] | None = None  # shape_signature (-1: dynamic)
    sparsity: dict | None = None  # {"segments": [...], "indices": [...]}: CSR on the last dim


@dataclass
class Op:
    name: str  # BuiltinOperator name or "CUSTOM:Name"
    inputs: list[int]
    outputs: list[int]
    options: str | None = None  # BuiltinOptions name
    # (slot, kind, value) of the options table; kind "int32s": a list of int32 values
    fields: list[tuple[int, str, Any]] = field(default_factory=list)
    custom: bytes = b""  # custom_options (a custom op's raw options)
    version: int = 1  # the operator code's version


def _vector(b: flatbuffers.Builder, kind: str, values) -> int:
    size = {"int32": 4, "int64": 8, "float32": 4, "uint8": 1, "offset": 4}[kind]
    b.StartVector(size, len(values), size)
    prepend = {
        "int32": b.PrependInt32,
        "int64": b.PrependInt64,
        "float32": b.PrependFloat32,
        "uint8": b.PrependUint8,
        "offset": b.PrependUOffsetTRelative,
    }[kind]
    for v in reversed(list(values)):
        prepend(v)
    return b.EndVector()


def _table(b: flatbuffers.Builder, fields: list[tuple[int, str, Any]]) -> int:
    """A table of (slot, kind, value) fields; kind "int32s": a vector of int32 values."""
    fields = [
        (s, "offset", _vector(b, "int32", v)) if kind == "int32s" else (s, kind, v)
        for s, kind, v in fields
    ]
    b.StartObject(1 + max((s for s, _, _ in fields), default=0))
    slot = {
        "int32": b.PrependInt32Slot,
        "float32": b.PrependFloat32Slot,
        "uint8": b.PrependUint8Slot,
        "int8": b.PrependInt8Slot,
        "bool": b.PrependBoolSlot,
        "offset": b.PrependUOffsetTRelativeSlot,
    }
    for s, kind, value in fields:
        slot[kind](s, value, 0)
    return b.EndObject()


def _sparsity(b: flatbuffers.Builder, rows: int, csr: dict) -> int:
    segments = _table(b, [(0, "offset", _vector(b, "int32", csr["segments"]))])
    indices = _table(b, [(0, "offset", _vector(b, "int32", csr["indices"]))])
    dense = _table(b, [(0, "int8", 0), (1, "int32", rows)])
    sparse = _table(
        b,
        [
            (0, "int8", 1),
            (2, "uint8", 1),
            (3, "offset", segments),
            (4, "uint8", 1),
            (5, "offset", indices),
        ],
    )
    dims = _vector(b, "offset", [dense, sparse])
    return _table(b, [(0, "offset", _vector(b, "int32", [0, 1])), (2, "offset", dims)])


Graph = tuple[list[Tensor], list[Op], list[int], list[int]]  # tensors, ops, inputs, outputs


def build(
    tensors: list[Tensor],
    ops: list[Op],
    inputs: list[int],
    outputs: list[int],
    more: list[Graph] | None = None,
) -> bytes:
    """The .tflite flatbuffer of a model: subgraph 0, then the subgraphs in `more` (bodies of
    control flow ops)."""
    b = flatbuffers.Builder(1024)
    buffers = [_table(b, [])]  # buffer 0: empty, by convention
    graphs = [(tensors, ops, inputs, outputs), *(more or [])]
    codes = sorted({(op.name, op.version) for graph in graphs for op in graph[1]})
    subgraphs = [_subgraph(b, buffers, codes, *graph) for graph in graphs]
    code_offsets = []
    for name, version in codes:
        if name.startswith("CUSTOM:"):
            custom = b.CreateString(name.split(":", 1)[1])
            fields = [(0, "int8", BuiltinOperator.CUSTOM), (1, "offset", custom)]
            fields.append((3, "int32", BuiltinOperator.CUSTOM))
        else:
            code = getattr(BuiltinOperator, name)
            fields = [(0, "int8", min(code, 127)), (3, "int32", code)]
        code_offsets.append(_table(b, [*fields, (2, "int32", version)]))
    model = _table(
        b,
        [
            (0, "int32", 3),
            (1, "offset", _vector(b, "offset", code_offsets)),
            (2, "offset", _vector(b, "offset", subgraphs)),
            (4, "offset", _vector(b, "offset", buffers)),
        ],
    )
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def _subgraph(
    b: flatbuffers.Builder,
    buffers: list[int],
    codes: list[tuple[str, int]],
    tensors: list[Tensor],
    ops: list[Op],
    inputs: list[int],
    outputs: list[int],
) -> int:
    """One subgraph table; its constants' buffers appended to `buffers`."""
    tensor_offsets = []
    for t in tensors:
        buffer_index = 0
        if t.data is not None:
            raw = np.frombuffer(np.ascontiguousarray(t.data).tobytes(), np.uint8)
            data = b.CreateNumpyVector(raw)
            buffers.append(_table(b, [(0, "offset", data)]))
            buffer_index = len(buffers) - 1
        name = b.CreateString(t.name)
        shape = _vector(b, "int32", t.shape)
        fields = [(0, "offset", shape), (1, "int8", TYPES[t.dtype]), (2, "int32", buffer_index)]
        fields.append((3, "offset", name))
        if t.quant:
            scales = t.quant[0] if isinstance(t.quant[0], list) else [t.quant[0]]
            scale = _vector(b, "float32", scales)
            zero = _vector(b, "int64", [t.quant[1]] * len(scales))
            quant = [(2, "offset", scale), (3, "offset", zero), (6, "int32", t.quant_axis)]
            fields.append((4, "offset", _table(b, quant)))
        if t.sparsity:
            fields.append((6, "offset", _sparsity(b, t.shape[0], t.sparsity)))
        if t.signature:
            fields.append((7, "offset", _vector(b, "int32", t.signature)))
        tensor_offsets.append(_table(b, fields))
    op_offsets = []
    for op in ops:
        fields = [
            (0, "int32", codes.index((op.name, op.version))),
            (1, "offset", _vector(b, "int32", op.inputs)),
            (2, "offset", _vector(b, "int32", op.outputs)),
        ]
        if op.custom:
            fields.append((5, "offset", _vector(b, "uint8", op.custom)))
        if op.options:
            options = _table(b, op.fields)
            fields += [(3, "uint8", getattr(BuiltinOptions, op.options)), (4, "offset", options)]
        op_offsets.append(_table(b, fields))
    return _table(
        b,
        [
            (0, "offset", _vector(b, "offset", tensor_offsets)),
            (1, "offset", _vector(b, "int32", inputs)),
            (2, "offset", _vector(b, "int32", outputs)),
            (3, "offset", _vector(b, "offset", op_offsets)),
        ],
    )


def write(path: Path, *args) -> Path:
    """`build(*args)` written to `path`."""
    path.write_bytes(build(*args))
    return path


def fully_connected(path: Path, units: int, depth: int = 64, activation: int = 0) -> Path:
    """A float FULLY_CONNECTED (1 x depth -> 1 x units, random constant weights, no bias;
    `activation`: TFLite's fused ActivationFunctionType, 1 = RELU)."""
    w = np.random.default_rng(3).standard_normal((units, depth)).astype(np.float32)
    x, y = Tensor("x", (1, depth)), Tensor("y", (1, units))
    tensors = [x, Tensor("w", (units, depth), data=w), y]
    fields = [(0, "int8", activation)] if activation else []
    ops = [Op("FULLY_CONNECTED", [0, 1, -1], [2], "FullyConnectedOptions", fields)]
    return write(path, tensors, ops, [0], [2])


def int8_conv(
    path: Path, weight_scales: list[float], out_scale: float, relu: bool, out_zp: int = 5
) -> Path:
    """x [1,6,6,8] int8 (scale 0.05, zero point -3) -> CONV_2D 3x3 SAME with per-channel int8
    weights (one output channel per scale in `weight_scales`) and a random bias -> y int8 of
    scale `out_scale`, zero point `out_zp` (`relu`: TFLite's fused RELU)."""
    x_scale, channels = 0.05, len(weight_scales)
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (channels, 3, 3, 8)).astype(np.int8)
    bias = rng.integers(-3000, 3000, channels).astype(np.int32)
    tensors = [
        Tensor("x", (1, 6, 6, 8), "int8", quant=(x_scale, -3)),
        Tensor("w", w.shape, "int8", w, quant=(list(weight_scales), 0)),
        Tensor("b", (channels,), "int32", bias, quant=([x_scale * s for s in weight_scales], 0)),
        Tensor("y", (1, 6, 6, channels), "int8", quant=(out_scale, out_zp)),
    ]
    fields = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", int(relu))]
    return write(path, tensors, [Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", fields)], [0], [3])


def int8_sum(path: Path) -> Path:
    """x [1,3,4,3] int8 -> SUM over H, W (keep_dims) -> y int8 of another scale: TFLite's
    reference kernel computes other numbers than its builtin kernel (and NumPy)."""
    tensors = [Tensor("x", (1, 3, 4, 3), "int8", quant=(0.05, -3)), i32("axes", [1, 2]),
               Tensor("y", (1, 1, 1, 3), "int8", quant=(0.3, 2))]  # fmt: skip
    ops = [Op("SUM", [0, 1], [2], "ReducerOptions", [(0, "bool", True)])]
    return write(path, tensors, ops, [0], [2])


def i32(name: str, values) -> Tensor:
    """A constant int32 tensor (a scalar for a scalar)."""
    data = np.array(values, np.int32)
    return Tensor(name, data.shape, "int32", data)


def stft_frames(path):
    """tf.signal.stft's pattern: the frame count computed from the input's shape (SHAPE ->
    SPLIT_V -> RESHAPE to a scalar by an empty shape -> FLOOR_DIV -> PACK -> RESHAPE), the
    frames' declared shapes one-frame placeholders, RFFT2D of each frame, its magnitude, and
    its real part (SQUEEZE of the complex tensor by a negative axis, CAST to float32)."""
    n, frames = 64, 4
    stale = (1, 1, 1, n)
    tensors = [
        Tensor("x", (1, frames * n)),  # 0
        Tensor("shape", (2,), "int32"),  # 1
        i32("sizes", [1, 1]),  # 2
        i32("axis", 0),  # 3
        Tensor("batch", (1,), "int32"),  # 4
        Tensor("length", (1,), "int32"),  # 5
        i32("scalar", np.zeros(0, np.int32)),  # 6: an empty shape
        Tensor("n", (), "int32"),  # 7
        i32("frame", n),  # 8
        Tensor("count", (), "int32"),  # 9
        i32("one", 1),  # 10
        Tensor("frames_shape", (4,), "int32"),  # 11
        Tensor("frames", stale, signature=(1, -1, 1, n)),  # 12
        i32("fft_length", [1, n]),  # 13
        Tensor("spectrum", (1, 1, 1, n // 2 + 1), "complex64", signature=(1, -1, 1, n // 2 + 1)),
        Tensor("magnitude", (1, 1, 1, n // 2 + 1), signature=(1, -1, 1, n // 2 + 1)),  # 15
        Tensor("rows", (1, 1, n // 2 + 1), "complex64", signature=(1, -1, n // 2 + 1)),  # 16
        Tensor("real", (1, 1, n // 2 + 1), signature=(1, -1, n // 2 + 1)),  # 17
    ]
    ops = [
        Op("SHAPE", [0], [1], "ShapeOptions", [(0, "int8", 2)]),
        Op("SPLIT_V", [1, 2, 3], [4, 5], "SplitVOptions", [(0, "int32", 2)]),
        Op("RESHAPE", [5, 6], [7]),
        Op("FLOOR_DIV", [7, 8], [9]),
        Op("PACK", [10, 9, 10, 8], [11], "PackOptions", [(0, "int32", 4)]),
        Op("RESHAPE", [0, 11], [12]),
        Op("RFFT2D", [12, 13], [14]),
        Op("COMPLEX_ABS", [14], [15]),
        Op("SQUEEZE", [14], [16], "SqueezeOptions", [(0, "int32s", [-2])]),
        Op("CAST", [16], [17]),
    ]
    return write(path, tensors, ops, [0], [15, 17])


def uint8_network(path):
    """x [1,8,8,8] -> CONV_2D 3x3 SAME -> DEPTHWISE_CONV_2D 3x3 SAME (ReLU) ->
    FULLY_CONNECTED of the [1,8,8,16] map flattened by the op -> y [1,10]: all uint8, every
    weight uint8 over the whole range with a zero point far from 128."""
    x, y1, y2, y3 = (0.05, 120), (0.2, 100), (0.3, 131), (0.9, 125)  # (scale, zero point)
    rng = np.random.default_rng(0)

    def weights(shape, zp):
        return rng.integers(0, 256, shape).astype(np.uint8), (0.01, zp)

    conv_w, conv_q = weights((16, 3, 3, 8), 137)
    dw_w, dw_q = weights((1, 3, 3, 16), 118)
    fc_w, fc_q = weights((10, 1024), 146)

    def bias(n, x_scale, w_scale):
        return Tensor("b", (n,), "int32", rng.integers(-900, 900, n).astype(np.int32),
                      quant=(x_scale * w_scale, 0))  # fmt: skip

    tensors = [
        Tensor("x", (1, 8, 8, 8), "uint8", quant=x),  # 0
        Tensor("conv_w", conv_w.shape, "uint8", conv_w, quant=conv_q),  # 1
        bias(16, x[0], 0.01),  # 2
        Tensor("y1", (1, 8, 8, 16), "uint8", quant=y1),  # 3
        Tensor("dw_w", dw_w.shape, "uint8", dw_w, quant=dw_q),  # 4
        bias(16, y1[0], 0.01),  # 5
        Tensor("y2", (1, 8, 8, 16), "uint8", quant=y2),  # 6
        Tensor("fc_w", fc_w.shape, "uint8", fc_w, quant=fc_q),  # 7
        bias(10, y2[0], 0.01),  # 8
        Tensor("y3", (1, 10), "uint8", quant=y3),  # 9
    ]
    same = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1)]
    ops = [
        Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", same),
        Op(
            "DEPTHWISE_CONV_2D",
            [3, 4, 5],
            [6],
            "DepthwiseConv2DOptions",
            [*same, (3, "int32", 1), (4, "int8", 1)],
        ),  # fmt: skip
        Op("FULLY_CONNECTED", [6, 7, 8], [9], "FullyConnectedOptions"),
    ]
    return write(path, tensors, ops, [0], [3, 6, 9])


def hybrid_network(path: Path, dequantized: bool = False) -> Path:
    """x [1,8,8,8] float -> CONV_2D 3x3 SAME (ReLU) -> DEPTHWISE_CONV_2D 3x3 SAME (ReLU) ->
    FULLY_CONNECTED of the [1,8,8,16] map flattened by the op -> times a DEQUANTIZE'd int8
    constant -> y [1,10]: dynamic-range quantization (the converter's default optimization),
    float activations and biases, int8 weights per channel (conv: dimension 0, depthwise:
    dimension 3) and per tensor (FC, the DEQUANTIZE'd constant). `dequantized`: the same model
    with float32 weights holding the int8 weights' values."""
    rng = np.random.default_rng(0)

    def weight(name: str, shape: tuple[int, ...], axis: int | None) -> Tensor:
        w = rng.standard_normal(shape).astype(np.float32)
        others = tuple(d for d in range(len(shape)) if d != axis)
        scale = (np.abs(w).max(axis=others, keepdims=True) / 127).astype(np.float32)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        if dequantized:
            return Tensor(name, shape, "float32", (q * scale).astype(np.float32))
        scales = [float(s) for s in scale.reshape(-1)]
        per = scales if axis is not None else scales[0]
        return Tensor(name, shape, "int8", q, quant=(per, 0), quant_axis=axis or 0)

    def bias(name: str, n: int) -> Tensor:
        return Tensor(name, (n,), "float32", rng.standard_normal(n).astype(np.float32))

    tensors = [
        Tensor("x", (1, 8, 8, 8)),  # 0
        weight("conv_w", (16, 3, 3, 8), 0),  # 1
        bias("conv_b", 16),  # 2
        Tensor("y1", (1, 8, 8, 16)),  # 3
        weight("dw_w", (1, 3, 3, 16), 3),  # 4
        bias("dw_b", 16),  # 5
        Tensor("y2", (1, 8, 8, 16)),  # 6
        weight("fc_w", (10, 1024), None),  # 7
        bias("fc_b", 10),  # 8
        Tensor("y3", (1, 10)),  # 9
        weight("gain", (10,), None),  # 10
        Tensor("gain_f", (10,)),  # 11
        Tensor("y", (1, 10)),  # 12
    ]
    same = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int8", 1)]
    version = 1 if dequantized else 2  # hybrid kernels: op version 2 and up (3 for FC)
    ops = [
        Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", same, version=version),
        Op(
            "DEPTHWISE_CONV_2D",
            [3, 4, 5],
            [6],
            "DepthwiseConv2DOptions",
            [*same[:3], (3, "int32", 1), (4, "int8", 1)],
            version=version,
        ),
        Op("FULLY_CONNECTED", [6, 7, 8], [9], "FullyConnectedOptions", version=version + 1),
    ]
    if dequantized:  # the gain a constant (gain_f unused)
        ops.append(Op("MUL", [9, 10], [12], "MulOptions"))
    else:
        ops += [Op("DEQUANTIZE", [10], [11]), Op("MUL", [9, 11], [12], "MulOptions")]
    return write(path, tensors, ops, [0], [12])


def rnn_loop(
    path: Path, steps: int = 5, data_dependent: bool = False, outputs_list: bool = False
) -> Path:
    """x [steps, 1, 4] -> WHILE i < steps (`data_dependent`: and sum(h) < 50, never false for
    these weights but unknown at import): h = tanh(x[i] @ W + h @ U), i + 1 -> h [1, 4]: a
    Keras RNN as the converter writes it (a step counter, a constant bound, the sequence
    gathered by the counter). `outputs_list`: every step's h is also written into a list
    [steps, 1, 4] (a second output) as a TensorList LSTM's SetItem converts: list =
    concat(list[:i], h, list[i+1:]), the slices' bounds computed from the counter."""
    rng = np.random.default_rng(4)
    w, u = (rng.standard_normal((4, 4)).astype(np.float32) * 0.5 for _ in range(2))
    state = [Tensor("i", (), "int32"), Tensor("h", (1, 4)), Tensor("x", (steps, 1, 4))]
    if outputs_list:
        state.append(Tensor("list", (steps, 1, 4)))
    n = len(state)
    # cond: (i, h, x[, list]) -> LESS(i, steps), or LESS(SUM(h), 50)
    cond_tensors = [*state, i32("n", steps), Tensor("go", (), "bool")]
    cond_ops = [Op("LESS", [0, n], [n + 1])]
    if data_dependent:  # and sum(h) < 50: known only at run time
        limit = Tensor("limit", (), data=np.array(50, np.float32))
        cond_tensors += [i32("axes", [0, 1]), Tensor("s", ()), limit]
        cond_tensors += [Tensor("counting", (), "bool"), Tensor("small", (), "bool")]
        cond_ops = [
            Op("LESS", [0, n], [n + 5]),
            Op("SUM", [1, n + 2], [n + 3], "ReducerOptions"),
            Op("LESS", [n + 3, n + 4], [n + 6]),
            Op("LOGICAL_AND", [n + 5, n + 6], [n + 1]),
        ]
    cond = (cond_tensors, cond_ops, list(range(n)), [n + 1])
    body_tensors = [
        *state,  # 0 .. n-1
        i32("one", 1),  # n
        Tensor("i1", (), "int32"),  # n+1
        Tensor("xi", (1, 4)),  # n+2
        Tensor("w", (4, 4), data=w.T.copy()),  # n+3: FC weights [out, in]
        Tensor("u", (4, 4), data=u.T.copy()),  # n+4
        Tensor("a", (1, 4)),  # n+5
        Tensor("b", (1, 4)),  # n+6
        Tensor("c", (1, 4)),  # n+7
        Tensor("h1", (1, 4)),  # n+8
    ]
    body_ops = [
        Op("ADD", [0, n], [n + 1], "AddOptions"),
        Op("GATHER", [2, 0], [n + 2], "GatherOptions"),
        Op("FULLY_CONNECTED", [n + 2, n + 3, -1], [n + 5], "FullyConnectedOptions"),
        Op("FULLY_CONNECTED", [1, n + 4, -1], [n + 6], "FullyConnectedOptions"),
        Op("ADD", [n + 5, n + 6], [n + 7], "AddOptions"),
        Op("TANH", [n + 7], [n + 8]),
    ]
    body_outputs = [n + 1, n + 8, 2]
    if outputs_list:
        k = len(body_tensors)
        body_tensors += [
            i32("one_dim", [1]),  # k
            i32("rest_size", [1, 4]),  # k+1
            i32("rest_begin", [0, 0]),  # k+2
            i32("zeros", [0, 0, 0]),  # k+3
            i32("to_end", [-1, -1, -1]),  # k+4
            i32("axis0", 0),  # k+5
            Tensor("i_vec", (1,), "int32"),  # k+6
            Tensor("head_size", (3,), "int32"),  # k+7
            Tensor("i1_vec", (1,), "int32"),  # k+8
            Tensor("tail_begin", (3,), "int32"),  # k+9
            Tensor("head", (1, 1, 4), signature=(-1, 1, 4)),  # k+10: resized at run time
            Tensor("tail", (1, 1, 4), signature=(-1, 1, 4)),  # k+11
            Tensor("item", (1, 1, 4)),  # k+12
            Tensor("list1", (steps, 1, 4)),  # k+13
        ]
        body_ops += [
            Op("RESHAPE", [0, k], [k + 6]),
            Op("CONCATENATION", [k + 6, k + 1], [k + 7], "ConcatenationOptions"),
            Op("SLICE", [3, k + 3, k + 7], [k + 10]),
            Op("RESHAPE", [n + 1, k], [k + 8]),
            Op("CONCATENATION", [k + 8, k + 2], [k + 9], "ConcatenationOptions"),
            Op("SLICE", [3, k + 9, k + 4], [k + 11]),
            Op("EXPAND_DIMS", [n + 8, k + 5], [k + 12]),
            Op("CONCATENATION", [k + 10, k + 12, k + 11], [k + 13], "ConcatenationOptions"),
        ]
        body_outputs.append(k + 13)
    body = (body_tensors, body_ops, list(range(n)), body_outputs)
    main_tensors = [
        Tensor("seq", (steps, 1, 4)),  # 0
        i32("zero", 0),  # 1
        Tensor("h0", (1, 4), data=np.zeros((1, 4), np.float32)),  # 2
        Tensor("i_out", (), "int32"),  # 3
        Tensor("h_out", (1, 4)),  # 4
        Tensor("x_out", (steps, 1, 4)),  # 5
    ]
    loop_inputs, loop_outputs, outputs = [1, 2, 0], [3, 4, 5], [4]
    if outputs_list:
        main_tensors += [
            Tensor("list0", (steps, 1, 4), data=np.zeros((steps, 1, 4), np.float32)),  # 6
            Tensor("list_out", (steps, 1, 4)),  # 7
        ]
        loop_inputs, loop_outputs, outputs = [1, 2, 0, 6], [3, 4, 5, 7], [4, 7]
    fields = [(0, "int32", 1), (1, "int32", 2)]
    loop = Op("WHILE", loop_inputs, loop_outputs, "WhileOptions", fields)
    return write(path, main_tensors, [loop], [0], outputs, [cond, body])
