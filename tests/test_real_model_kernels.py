"""Kernels of real models that failed to tune, or tuned wrong (session 31's MediaPipe tunes).

- A residual added after padding it to more channels (BlazeFace's blocks): the conv, the pad
  and the epilogue fuse into one kernel; MultiLevelTiling failed the task's whole space
  generation while the pad was a block of its own (`tune mp_face_detection_short_range`
  stopped with a ScheduleError).
- A transposed conv to one channel (the selfie segmenter's last layer): TVM computes it NCHW,
  ThreadSplit rejected every candidate (no row bands in one channel), and once tuned, the
  weight's layout rewritten through the kernel flip gave wrong outputs.
- A task whose space cannot be generated is left untuned and named; the run goes on.
- TFLite's builtin TRANSPOSE_CONV did not build at all (TVM's importer keeps it NHWC).
"""

from __future__ import annotations

import json

import numpy as np
from tflite_builder import Op, Tensor, write

from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.oracle.substitute import substitute_custom_ops
from edgetune.paths import MODELS_DIR
from edgetune.runtime import load_artifact

TINY_TUNE = ("--trials", 8, "--no-library", "--final-top", 0, "--json")  # the search alone


def padded_residual_block(path):
    """x (24 channels) -> 1x1 conv to 28 channels + bias, + x padded to 28 channels, relu."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((28, 1, 1, 24)).astype(np.float32) * 0.2  # OHWI
    bias = rng.standard_normal(28).astype(np.float32)
    pads = np.array([[0, 0], [0, 0], [0, 0], [0, 4]], np.int32)
    tensors = [
        Tensor("x", (1, 16, 16, 24)),  # 0
        Tensor("w", w.shape, data=w),  # 1
        Tensor("b", (28,), data=bias),  # 2
        Tensor("conv", (1, 16, 16, 28)),  # 3
        Tensor("pads", (4, 2), "int32", pads),  # 4
        Tensor("padded", (1, 16, 16, 28)),  # 5
        Tensor("y", (1, 16, 16, 28)),  # 6
    ]
    conv = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1)]  # SAME, stride 1
    ops = [
        Op("CONV_2D", [0, 1, 2], [3], "Conv2DOptions", conv),
        Op("PAD", [0, 4], [5], "PadOptions"),
        Op("ADD", [3, 5], [6], "AddOptions", [(0, "int8", 1)]),  # fused RELU
    ]
    return write(path, tensors, ops, [0], [6])


def test_conv_with_a_padded_residual_tunes_and_matches_litert(cli, tmp_path):
    model = padded_residual_block(tmp_path / "block.tflite")
    tasks = cli("tasks", model, "--json")
    assert tasks.code == 0, tasks.err
    names = [t["name"] for t in json.loads(tasks.out)["tasks"]]
    assert any("pad" in n and "conv2d" in n for n in names), names  # one fused kernel
    recs, lib = tmp_path / "recs", tmp_path / "block.so"
    tuned = cli("tune", model, "--records", recs, *TINY_TUNE)
    assert tuned.code == 0, tuned.err
    assert json.loads(tuned.out)["trials"] == 8
    assert cli("build", model, "--records", recs, "-o", lib).code == 0
    x = random_inputs(load_model(model).info, seed=1)
    (ours,) = load_artifact(lib, 1)(x)
    (want,) = LiteRTModel(model, threads=1)(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


FAILING_RULE = """
from tvm.ir.utils import derived_object
from tvm.s_tir.meta_schedule.schedule_rule import PyScheduleRule


@derived_object
class FailsOnConvs(PyScheduleRule):
    def _initialize_with_tune_context(self, context):
        pass

    def apply(self, sch, block):
        if sch.get(block).name_hint == "conv2d_nhwc":
            sch.compute_inline(block)  # a reduction: ScheduleError
        return [sch]

    def clone(self):
        return FailsOnConvs()


def extend(parts, board):
    parts.rules.insert(0, FailsOnConvs())
"""


def test_a_task_without_search_space_is_left_untuned_and_named(cli, tmp_path):
    from edgetune.board import load_board

    (tmp_path / "failing_rules.py").write_text(FAILING_RULE)
    text = load_board("host").path.read_text()
    board = tmp_path / "host-failing.toml"
    board.write_text(
        text.replace('rule_set = "host"', 'rule_set = "host"\nrules_module = "failing_rules"')
    )
    recs = tmp_path / "recs"
    args = ["tiny_fp32", "--board", board, "--records", recs, "--no-library", "--final-top", 0]
    tuned = cli("tune", *args, "--trials", 8, "--json")
    assert tuned.code == 0, tuned.err
    report = json.loads(tuned.out)
    untuned = report["search"]["untuned_no_space"]
    assert sorted(untuned) == ["fused_conv2d2_add_add1_tir_clip", "fused_conv2d_add_tir_clip"]
    assert all(
        m == "ScheduleError: The block has init statement: s_tir.SBlock#0" for m in untuned.values()
    )
    assert "left untuned, no search space" in tuned.err and "Traceback" not in tuned.err
    assert report["trials"] == 8  # the other tasks got the budget
    lib = tmp_path / "tiny.so"
    assert cli("build", "tiny_fp32", "--board", board, "--records", recs, "-o", lib).code == 0
    x = random_inputs(load_model(MODELS_DIR / "tiny_fp32.tflite").info, seed=2)
    (ours,) = load_artifact(lib, 1)(x)
    (want,) = LiteRTModel(MODELS_DIR / "tiny_fp32.tflite", threads=1)(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


def transposed_conv_to_one_channel(path):
    """x (1, 16, 16, 8) -> MediaPipe's Convolution2DTransposeBias 2x2 stride 2 to one channel,
    (1, 32, 32, 1), as the selfie segmenter ends."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((1, 2, 2, 8)).astype(np.float32)  # OHWI
    tensors = [
        Tensor("x", (1, 16, 16, 8)),
        Tensor("w", w.shape, data=w),
        Tensor("b", (1,), data=np.array([0.25], np.float32)),
        Tensor("y", (1, 32, 32, 1)),
    ]
    options = np.array([2, 2, 2], "<i4").tobytes()  # VALID, stride w, h
    op = Op("CUSTOM:Convolution2DTransposeBias", [0, 1, 2], [3], custom=options)
    return write(path, tensors, [op], [0], [3])


def test_transposed_conv_to_one_channel_tunes_and_matches_litert(cli, tmp_path):
    model = transposed_conv_to_one_channel(tmp_path / "up.tflite")
    recs, lib = tmp_path / "recs", tmp_path / "up.so"
    tuned = cli("tune", model, "--records", recs, *TINY_TUNE)
    assert tuned.code == 0, tuned.err
    assert json.loads(tuned.out)["records_valid"] >= 1  # candidates pass ThreadSplit
    assert cli("build", model, "--records", recs, "-o", lib).code == 0
    x = random_inputs(load_model(model).info, seed=3)
    (ours,) = load_artifact(lib, 2)(x)
    builtins, _ = substitute_custom_ops(model.read_bytes())  # TRANSPOSE_CONV + ADD
    (want,) = LiteRTModel(builtins, threads=1)(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


def test_builtin_transpose_conv_builds_tunes_and_matches_litert(cli, tmp_path):
    """TFLite's own TRANSPOSE_CONV (NHWC in TVM's importer, which TVM could not lower)."""
    rng = np.random.default_rng(6)
    w = rng.standard_normal((3, 2, 2, 8)).astype(np.float32)  # OHWI
    tensors = [
        Tensor("x", (1, 16, 16, 8)),  # 0
        Tensor("w", w.shape, data=w),  # 1
        Tensor("shape", (4,), "int32", np.array([1, 32, 32, 3], np.int32)),  # 2
        Tensor("t", (1, 32, 32, 3)),  # 3
        Tensor("b", (3,), data=np.array([0.25, 0.5, -1.0], np.float32)),  # 4
        Tensor("y", (1, 32, 32, 3)),  # 5
    ]
    options = [(0, "int8", 0), (1, "int32", 2), (2, "int32", 2)]  # SAME, stride 2
    ops = [
        Op("TRANSPOSE_CONV", [2, 1, 0], [3], "TransposeConvOptions", options),
        Op("ADD", [3, 4], [5], "AddOptions"),
    ]
    model = write(tmp_path / "tconv.tflite", tensors, ops, [0], [5])
    recs, lib = tmp_path / "recs", tmp_path / "tconv.so"
    tuned = cli("tune", model, "--records", recs, *TINY_TUNE)
    assert tuned.code == 0, tuned.err
    assert json.loads(tuned.out)["records_valid"] >= 1
    assert cli("build", model, "--records", recs, "-o", lib).code == 0
    x = random_inputs(load_model(model).info, seed=4)
    (ours,) = load_artifact(lib, 2)(x)
    (want,) = LiteRTModel(model, threads=1)(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)


def test_a_conv_then_a_negative_axis_squeeze_lowers():
    """openWakeWord's melspectrogram (a strided conv as STFT, then squeeze(axis=-3)) stopped
    in `lower` with std::bad_alloc: Relax's ConvertLayout, run for TFLite's NHWC transposed
    convs, fails on it. It now runs only for modules that have one."""
    from tvm import relax

    from edgetune.board import load_board
    from edgetune.tasks.lower import lower

    x = relax.Var("x", relax.TensorType((1, 1, 64, 1), "float32"))
    bb = relax.BlockBuilder()
    with bb.function("main", [x]):
        with bb.dataflow():
            w = relax.const(np.ones((1, 16, 1, 8), "float32"))
            conv = relax.op.nn.conv2d(
                x, w, strides=(1, 16), data_layout="NHWC", kernel_layout="HWIO"
            )
            y = bb.emit(conv)
            z = bb.emit_output(relax.op.squeeze(y, axis=[-3]))
        bb.emit_func_output(z)
    lowered = lower(bb.get(), load_board("host").target())
    assert sorted(gv.name_hint for gv in lowered.functions) == ["conv2d", "main", "squeeze"]


def squeeze_excite_block(path):
    """x (7x4x24) -> mean over the map -> 1x1 conv + bias -> sigmoid -> x * gate: MobileNetV3's,
    EfficientNet's and MediaPipe's squeeze-and-excite (on the map of an EfficientNet's last
    stage, a 28 times smaller gate)."""
    rng = np.random.default_rng(3)
    w = rng.standard_normal((24, 1, 1, 24)).astype(np.float32) * 0.3  # OHWI
    bias = rng.standard_normal(24).astype(np.float32)
    tensors = [
        Tensor("x", (1, 7, 4, 24)),  # 0
        Tensor("axes", (2,), "int32", np.array([1, 2], np.int32)),  # 1
        Tensor("pooled", (1, 1, 1, 24)),  # 2
        Tensor("w", w.shape, data=w),  # 3
        Tensor("b", (24,), data=bias),  # 4
        Tensor("logits", (1, 1, 1, 24)),  # 5
        Tensor("gate", (1, 1, 1, 24)),  # 6
        Tensor("y", (1, 7, 4, 24)),  # 7
    ]
    conv = [(0, "int8", 1), (1, "int32", 1), (2, "int32", 1)]  # VALID, stride 1
    ops = [
        Op("MEAN", [0, 1], [2], "ReducerOptions", [(0, "bool", True)]),
        Op("CONV_2D", [2, 3, 4], [5], "Conv2DOptions", conv),
        Op("LOGISTIC", [5], [6]),
        Op("MUL", [0, 6], [7], "MulOptions"),
    ]
    return write(path, tensors, ops, [0], [7])


def test_a_squeeze_excite_gate_is_its_own_kernel_and_matches_litert(cli, tmp_path):
    """The gate's multiply over the whole map is not fused into the 1x1-map conv (whose anchor
    it would share with convs of no such epilogue, and run their schedule on 28x more values,
    the sigmoid inlined and computed 28 times a channel): it is an element-wise task of its
    own, tuned, built, equal to LiteRT."""
    model = squeeze_excite_block(tmp_path / "se.tflite")
    tasks = cli("tasks", model, "--json")
    assert tasks.code == 0, tasks.err
    names = [t["name"] for t in json.loads(tasks.out)["tasks"]]
    (gate,) = [n for n in names if "multiply" in n]
    assert "conv2d" not in gate, names
    recs, lib = tmp_path / "recs", tmp_path / "se.so"
    tuned = cli("tune", model, "--records", recs, *TINY_TUNE)
    assert tuned.code == 0, tuned.err
    assert cli("build", model, "--records", recs, "-o", lib).code == 0
    x = random_inputs(load_model(model).info, seed=2)
    (ours,) = load_artifact(lib, 1)(x)
    (want,) = LiteRTModel(model, threads=1)(x)
    np.testing.assert_allclose(ours, want, rtol=1e-5, atol=1e-5)
