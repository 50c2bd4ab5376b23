"""`--requantize fp32`: the integer convs requantize as XNNPACK does (float32 scale, round to
nearest even), so their outputs are XNNPACK's, bit for bit, and no longer the reference
kernels'. Untuned host builds, a tensorized kernel, and the records folder's memory of the
mode."""

from __future__ import annotations

import numpy as np
import pytest
from int8_support import pointwise_conv_task, realistic_args, run_untuned, tensorized_schedule

from edgetune.board import load_board
from edgetune.cli.library_args import library_from_args
from edgetune.cli.main import build_parser
from edgetune.cli.model_args import model_from_args
from edgetune.errors import ModelError, RecordsError
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle.litert import LiteRTModel
from edgetune.paths import MODELS_DIR
from edgetune.quant.float_requantization import FIXED_POINT, FP32
from edgetune.records import RecordStore, open_library
from edgetune.records.manifest import tuned_requantization
from edgetune.tasks import for_model


@pytest.mark.parametrize("name", ["probe_conv_int8", "probe_block_int8", "tiny_int8"])
def test_small_graphs_equal_xnnpack(name):
    """CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED (and the ADD and MEAN around them) give
    XNNPACK's outputs exactly; the reference kernels' differ where a product lands near a
    rounding boundary."""
    path = MODELS_DIR / f"{name}.tflite"
    model = load_model(path, requantization=FP32)
    assert model.info.requantization == FP32
    tasks = for_model(model, load_board("host")).tasks
    assert any("requantize_per_channel_float" in t.name for t in tasks)
    differs = False
    for seed in (0, 1, 2):
        inputs = random_inputs(model.info, seed=seed)
        ours = run_untuned(model, inputs)
        assert np.array_equal(ours, LiteRTModel(path, threads=1)(inputs)[0])
        ref = LiteRTModel(path, threads=1, reference_kernels=True)(inputs)[0]
        differs |= not np.array_equal(ours, ref)
    if name == "probe_conv_int8":  # the mode is in effect: one conv, 1 LSB from the reference
        assert differs


def test_tensorized_kernel_with_fp32_requantization_computes_the_untuned_one():
    """The VNNI-tensorized 1x1 conv with the fp32 epilogue (VNNI's +128 correction folded into
    its int32 bias) equals the untuned kernel, outputs spread over the int8 range."""
    import tvm

    board = load_board("host")
    task = pointwise_conv_task(board, FP32)
    target = board.target()
    lib = tvm.compile(tensorized_schedule(board, task).mod, target=target)
    assert "vpdpbusd" in lib.mod.inspect_source("asm")
    args = realistic_args(task.mod["main"], seed=1)
    expected = [tvm.runtime.tensor(x) for x in args]
    got = [tvm.runtime.tensor(x) for x in args]
    tvm.compile(task.mod, target=target)(*expected)
    lib(*got)
    out = got[-1].numpy()
    assert np.array_equal(out, expected[-1].numpy())
    assert len(np.unique(out)) > 50


def test_records_folder_remembers_its_requantization(tmp_path):
    """A folder tuned with fp32 is read with fp32 when --requantize is not given, and refuses
    a model imported the other way (its kernels are other tasks)."""
    board = load_board("host")
    path = MODELS_DIR / "probe_conv_int8.tflite"
    RecordStore(tmp_path / "recs", load_model(path, requantization=FP32).info, board)
    args = ["build", "probe_conv_int8", "--records", str(tmp_path / "recs"), "-o", "x.so"]
    assert model_from_args(build_parser().parse_args(args)).info.requantization == FP32
    assert tuned_requantization(tmp_path / "elsewhere") == FIXED_POINT
    fixed = load_model(path)
    with pytest.raises(RecordsError, match="tuned with --requantize fp32"):
        RecordStore(tmp_path / "recs", fixed.info, board, create=False)
    with pytest.raises(ModelError, match="fixed-point, fp32"):
        load_model(path, requantization="float16")


def test_mobilenet_v2_is_within_one_step_of_xnnpack():
    """Its 52 convs and the FC requantized as XNNPACK does: an untuned build lands within
    1 LSB of the XNNPACK output shipped with the model, top-5 equal (the fixed-point build,
    equal to the reference kernels, is up to 21 LSB from it, top-5 4 of 5)."""
    path = MODELS_DIR / "mobilenet_v2_int8.tflite"
    model = load_model(path, requantization=FP32)
    x = np.load(MODELS_DIR / "ref" / "mobilenet_v2_int8.in.npy")
    ours = run_untuned(model, [x]).astype(np.int64)
    xnn = np.load(MODELS_DIR / "ref" / "mobilenet_v2_int8.out_xnnpack.npy").astype(np.int64)
    assert np.abs(ours - xnn).max() <= 1
    top5 = [set(np.argsort(-a.reshape(-1))[:5].tolist()) for a in (ours, xnn)]
    assert top5[0] == top5[1]


def test_records_library_keeps_the_requantizations_apart(tmp_path):
    """Tasks match on their anchor block, which both requantizations share: an fp32 tune's
    library is a sub-folder of its own (the default's keeps its name), chosen from
    --requantize or the records folder's."""
    board = load_board("host")
    default, fp32 = open_library(tmp_path, board), open_library(tmp_path, board, FP32)
    assert default.path != fp32.path
    assert "requantization" not in default.key and fp32.key["requantization"] == FP32
    parser = build_parser()
    args = parser.parse_args(["tune", "probe_conv_int8", "--requantize", "fp32", "--library",
                              str(tmp_path), "--records", str(tmp_path / "r")])  # fmt: skip
    assert library_from_args(args, board).path == fp32.path
