"""Integer kernels vs LiteRT: bit-exact against TFLite's reference kernels, within the spread of
LiteRT's own kernel sets elsewhere. Untuned builds on the host board."""

from __future__ import annotations

import numpy as np
import pytest
from int8_support import run_untuned
from tflite_builder import int8_conv

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle.litert import LiteRTModel
from edgetune.paths import MODELS_DIR
from edgetune.quant.amx import has_amx
from edgetune.quant.operands import dot_products
from edgetune.tasks import extract_tasks, for_model, lower

REF = MODELS_DIR / "ref"


def _reference_kernels(path, inputs):
    """LiteRT with TFLite's reference (BUILTIN_REF) kernels."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(path), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for d, x in zip(it.get_input_details(), inputs):
        it.set_tensor(d["index"], x)
    it.invoke()
    return it.get_tensor(it.get_output_details()[0]["index"])


def _lsb(a, b) -> np.ndarray:
    return np.abs(a.astype(np.int64) - b.astype(np.int64))


def _top5(a) -> set[int]:
    return set(np.argsort(-a.reshape(-1))[:5].tolist())


@pytest.mark.parametrize(
    ("name", "ops"),
    [
        ("probe_conv_int8", {"CONV_2D": 1}),
        ("probe_block_int8", {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, "ADD": 1}),
        (
            "tiny_int8",
            {"CONV_2D": 2, "DEPTHWISE_CONV_2D": 1, "ADD": 1, "MEAN": 1, "FULLY_CONNECTED": 1},
        ),
    ],
)
def test_small_graphs_match_litert(name, ops):
    path = MODELS_DIR / f"{name}.tflite"
    model = load_model(path)
    assert model.integer_ops == ops  # every covered op became an integer kernel
    for seed in (0, 1):
        inputs = random_inputs(model.info, seed=seed)
        ours = run_untuned(model, inputs)
        assert ours.dtype == np.int8
        assert np.array_equal(ours, _reference_kernels(path, inputs))
        for builtin in (False, True):  # XNNPACK requantizes in fp32: at most 1 LSB apart
            theirs = LiteRTModel(path, threads=1, builtin_kernels=builtin)(inputs)[0]
            assert _lsb(ours, theirs).max() <= 1


@pytest.mark.parametrize(
    ("weight_scales", "relu", "out_zp", "form"),
    [
        ([0.001, 0.004, 0.01, 0.03], False, 5, "corrected"),
        ([0.001, 0.004, 0.01, 0.03], True, 5, "uncorrected"),  # RELU as a clip after it
        ([0.001, 0.004, 0.01, 0.03], True, -128, "2^30 folded"),  # clamp at zp from the start
        # real scales 0.25 (shift -1) and 1.25 (a left shift): the generic form, per channel
        ([0.001, 0.004, 0.1, 0.5], False, 5, "generic"),
    ],
)
def test_conv_requantization_forms_equal_the_reference_kernels(
    tmp_path, weight_scales, relu, out_zp, form
):
    """The per-channel form (with the correction of negative products; without it under a
    fused RELU, which clamps at the zero point; with SRDHM's 2^30 folded into its constants
    where the clamp starts at the zero point) and the generic one that scales of 1/4 and above
    fall back to: equal to TFLite's reference kernels over spread-out outputs."""
    path = int8_conv(tmp_path / "conv.tflite", weight_scales, 0.02, relu, out_zp)
    model = load_model(path)
    (conv,) = [t for t in for_model(model, load_board("host")).tasks if "conv2d" in t.name]
    kernel = "requantize_per_channel" if form == "generic" else "requantize_per_channel_fixed"
    assert conv.name.rstrip("0123456789").endswith(kernel), conv.name
    script = conv.mod.script()
    if form != "generic":  # the correction's sign test (y >> 63) and the 2^30 add
        assert ("T.int64(63)" in script) == (form == "corrected")
        assert ("T.int64(1073741824)" in script) != (form == "2^30 folded")
    spread = set()
    for seed in (0, 1, 2):
        inputs = random_inputs(model.info, seed=seed)
        ours = run_untuned(model, inputs)
        assert np.array_equal(ours, _reference_kernels(path, inputs))
        spread |= set(np.unique(ours).tolist())
    assert len(spread) > 40


def test_mobilenet_v2_int8_within_litert_spread():
    """One build. Exact vs TFLite's reference kernels; vs the shipped XNNPACK and builtin
    outputs no further than those kernel sets are from each other (reference vs XNNPACK: 21)."""
    path = MODELS_DIR / "mobilenet_v2_int8.tflite"
    model = load_model(path)
    assert sum(model.integer_ops.values()) == sum(model.info.ops.values())  # 64 ops, all integer
    x = np.load(REF / "mobilenet_v2_int8.in.npy")
    ours = run_untuned(model, [x])
    xnn = np.load(REF / "mobilenet_v2_int8.out_xnnpack.npy")
    builtin = np.load(REF / "mobilenet_v2_int8.out_builtin.npy")
    ref = _reference_kernels(path, [x])

    assert np.array_equal(ours, ref)
    spread = _lsb(xnn, builtin)
    vs_builtin = _lsb(ours, builtin)
    assert vs_builtin.max() <= spread.max() and vs_builtin.mean() <= spread.mean()
    assert len(_top5(ours) & _top5(builtin)) >= len(_top5(xnn) & _top5(builtin))
    vs_xnn = _lsb(ours, xnn)
    assert vs_xnn.max() <= _lsb(ref, xnn).max() and vs_xnn.mean() <= 1.1 * spread.mean()
    assert len(_top5(ours) & _top5(xnn)) >= 4


def test_uint8_io_model():
    """uint8 in/out (QUANTIZE at both ends, SOFTMAX): integer inside, QDQ where not covered."""
    path = MODELS_DIR / "mobilenet_v2_uint8io.tflite"
    model = load_model(path)
    assert model.info.inputs[0].dtype == "uint8" and model.integer_ops["CONV_2D"] == 35
    board = load_board("host")
    paths = {t.name: t.path for t in for_model(model, board).tasks}
    assert any("softmax" in n and p == "qdq" for n, p in paths.items())
    convs = [p for n, p in paths.items() if "conv2d" in n]
    assert set(convs) == {"int8"}
    # deep 1x1 convs are AMX kernels, not tasks, where the host has AMX (9 distinct shapes)
    assert len(convs) == 31 - (9 if has_amx(board.target()) else 0)
    inputs = random_inputs(model.info, seed=3)
    ours = run_untuned(model, inputs)
    assert ours.dtype == np.uint8
    assert _lsb(ours, LiteRTModel(path, threads=1)(inputs)[0]).max() <= 1


def test_weights_stay_int8_and_tasks_report_their_path():
    import tvm
    from tvm import relax

    target = load_board("host").target()
    fused = lower(load_model(MODELS_DIR / "tiny_int8.tflite").mod, target)
    consts: list = []
    relax.analysis.post_order_visit(
        fused["main"], lambda e: consts.append(e) if isinstance(e, tvm.ir.expr.Constant) else None
    )
    nbytes: dict[str, int] = {}
    for c in consts:
        if not hasattr(c.value, "numpy"):  # scalar immediates
            continue
        arr = c.value.numpy()
        nbytes[str(arr.dtype)] = nbytes.get(str(arr.dtype), 0) + arr.nbytes
    # every weight as int8 (3*3*3*16 + 3*3*16 + 16*16 + 16*10 bytes); with VNNI the stem's 3
    # input channels are padded to 4. The only float constants: the FULLY_CONNECTED's float64
    # scales (10 units; LiteRT's reference FC requantizes in float64)
    weights = 3 * 3 * 4 * 16 + 3 * 3 * 16 + 16 * 16 + 16 * 10 if dot_products(target) else 992
    assert nbytes["int8"] == weights
    assert {d: n for d, n in nbytes.items() if d.startswith("float")} == {"float64": 10 * 8}
    tasks = extract_tasks(fused, target)
    assert {t.path for t in tasks} == {"int8"}
    # the relu6 clips TVM imports after each quantized conv fold into its requantization
    assert not any("clip" in t.name for t in tasks)

    fp32 = lower(load_model(MODELS_DIR / "tiny_fp32.tflite").mod, target)
    assert {t.path for t in extract_tasks(fp32, target)} == {"float"}
    qdq = load_model(MODELS_DIR / "tiny_int8.tflite", integer_kernels=False)
    qdq_tasks = extract_tasks(lower(qdq.mod, target), target)
    assert "qdq" in {t.path for t in qdq_tasks}
