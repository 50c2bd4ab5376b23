"""Quantized AVERAGE_POOL_2D rounds to nearest like TFLite (TVM's import truncates).

No shipped model has the op, so the test writes a one-op int8 model with the `tflite`
flatbuffer builder and runs it in LiteRT and edgetune.
"""

from __future__ import annotations

import numpy as np
import pytest
import tflite
from flatbuffers import Builder
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.Padding import Padding
from tflite.TensorType import TensorType

from edgetune.frontend import load_model

SCALE, ZERO_POINT = 0.05, -3


def _int_vector(b: Builder, start, values, i8: bool = False) -> int:
    start(b, len(values))
    for v in reversed(values):
        (b.PrependInt64 if i8 else b.PrependInt32)(int(v))
    return b.EndVector()


def _tensor(b: Builder, name: str, shape: list[int]) -> int:
    tflite.QuantizationParametersStartScaleVector(b, 1)
    b.PrependFloat32(SCALE)
    scale = b.EndVector()
    zp = _int_vector(b, tflite.QuantizationParametersStartZeroPointVector, [ZERO_POINT], i8=True)
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zp)
    quant = tflite.QuantizationParametersEnd(b)
    name_off = b.CreateString(name)
    shape_off = _int_vector(b, tflite.TensorStartShapeVector, shape)
    tflite.TensorStart(b)
    tflite.TensorAddShape(b, shape_off)
    tflite.TensorAddType(b, TensorType.INT8)
    tflite.TensorAddBuffer(b, 0)
    tflite.TensorAddName(b, name_off)
    tflite.TensorAddQuantization(b, quant)
    return tflite.TensorEnd(b)


def average_pool_model(in_hw: int, filt: int, stride: int, padding: int) -> bytes:
    """A 1-op int8 model: input 1 x in_hw x in_hw x 4 -> AVERAGE_POOL_2D."""
    out_hw = -(-in_hw // stride) if padding == Padding.SAME else (in_hw - filt) // stride + 1
    b = Builder(1024)
    tensors = [
        _tensor(b, "input", [1, in_hw, in_hw, 4]),
        _tensor(b, "pool", [1, out_hw, out_hw, 4]),
    ]
    tflite.Pool2DOptionsStart(b)
    tflite.Pool2DOptionsAddPadding(b, padding)
    tflite.Pool2DOptionsAddStrideW(b, stride)
    tflite.Pool2DOptionsAddStrideH(b, stride)
    tflite.Pool2DOptionsAddFilterWidth(b, filt)
    tflite.Pool2DOptionsAddFilterHeight(b, filt)
    options = tflite.Pool2DOptionsEnd(b)
    ins = _int_vector(b, tflite.OperatorStartInputsVector, [0])
    outs = _int_vector(b, tflite.OperatorStartOutputsVector, [1])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, ins)
    tflite.OperatorAddOutputs(b, outs)
    tflite.OperatorAddBuiltinOptionsType(b, BuiltinOptions.Pool2DOptions)
    tflite.OperatorAddBuiltinOptions(b, options)
    op = tflite.OperatorEnd(b)

    tflite.SubGraphStartTensorsVector(b, len(tensors))
    for t in reversed(tensors):
        b.PrependUOffsetTRelative(t)
    tensor_vec = b.EndVector()
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(op)
    op_vec = b.EndVector()
    sg_in = _int_vector(b, tflite.SubGraphStartInputsVector, [0])
    sg_out = _int_vector(b, tflite.SubGraphStartOutputsVector, [1])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, op_vec)
    subgraph = tflite.SubGraphEnd(b)

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, BuiltinOperator.AVERAGE_POOL_2D)
    tflite.OperatorCodeAddBuiltinCode(b, BuiltinOperator.AVERAGE_POOL_2D)
    tflite.OperatorCodeAddVersion(b, 2)
    code = tflite.OperatorCodeEnd(b)
    tflite.BufferStart(b)
    buffer = tflite.BufferEnd(b)
    vectors = []
    for start, item in (
        (tflite.ModelStartOperatorCodesVector, code),
        (tflite.ModelStartSubgraphsVector, subgraph),
        (tflite.ModelStartBuffersVector, buffer),
    ):
        start(b, 1)
        b.PrependUOffsetTRelative(item)
        vectors.append(b.EndVector())
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, vectors[0])
    tflite.ModelAddSubgraphs(b, vectors[1])
    tflite.ModelAddBuffers(b, vectors[2])
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _run(model, x: np.ndarray) -> np.ndarray:
    import tvm
    from tvm import relax

    from edgetune.board import load_board
    from edgetune.tasks import lower

    target = load_board("host").target()
    exe = tvm.compile(lower(model.mod, target), target)
    return relax.VirtualMachine(exe, tvm.cpu())["main"](tvm.runtime.tensor(x)).numpy()


@pytest.mark.parametrize(
    ("in_hw", "filt", "stride", "padding"),
    [(8, 3, 2, Padding.SAME), (7, 2, 1, Padding.VALID)],
)
def test_average_pool_rounds_like_tflite(tmp_path, in_hw, filt, stride, padding):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    path = tmp_path / "avg_pool.tflite"
    path.write_bytes(average_pool_model(in_hw, filt, stride, padding))
    x = np.random.default_rng(0).integers(-128, 127, (1, in_hw, in_hw, 4), endpoint=True)
    x = x.astype(np.int8)
    outputs = {}
    for kind in ("BUILTIN_REF", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", "AUTO"):
        it = Interpreter(
            model_path=str(path), experimental_op_resolver_type=getattr(OpResolverType, kind)
        )
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outputs[kind] = it.get_tensor(it.get_output_details()[0]["index"])

    model = load_model(path)
    assert model.integer_ops == {"AVERAGE_POOL_2D": 1}
    ours = _run(model, x)
    for kind, theirs in outputs.items():
        assert np.array_equal(ours, theirs), kind
    truncated = _run(load_model(path, integer_kernels=False), x)  # TVM's own import
    assert not np.array_equal(truncated, outputs["BUILTIN_REF"])
