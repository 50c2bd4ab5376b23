"""Mali kernels on PoCL: no __local memory, OpenCL vector types, right answers, tuning records.

PoCL runs the kernels on this machine's CPU; its timings are not Mali timings.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import pytest

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.measure import make_runner
from edgetune.measure.opencl import Device, OpenCLProgram, lower_opencl, random_arrays
from edgetune.measure.robust import fastest
from edgetune.oracle import LiteRTModel
from edgetune.paths import shipped_model
from edgetune.rules.show import explore
from edgetune.tasks import for_model

VECTOR_TYPE = re.compile(r"\b(?:float|half|char|uchar|short|int)(?:2|3|4|8|16)\b")


@pytest.fixture(scope="module")
def board():
    return load_board("mali-pocl")


@pytest.fixture(scope="module")
def mobilenet_tasks(board):
    model = load_model(str(shipped_model("mobilenet_v2_fp32.tflite")))
    tasks = for_model(model, board).tasks
    pick = {}
    for t in tasks:  # a 1x1 conv, a depthwise conv, the classifier matmul
        key = {"conv2d_nhwc": "conv", "group_conv2d_nhwc": "depthwise", "matmul": "matmul"}
        if t.anchor in key and key[t.anchor] not in pick:
            pick[key[t.anchor]] = t
    return pick


@pytest.fixture(scope="module")
def device(board):
    return Device(board.connection.extra["platform"]).open()


@pytest.mark.parametrize("kind", ["conv", "depthwise", "matmul"])
def test_mali_kernels_vectorized_without_local_memory_and_correct(
    board, mobilenet_tasks, device, kind
):
    import tvm

    task = mobilenet_tasks[kind]
    samples = explore(task.mod, board, samples=2, seed=3).samples
    assert samples, f"no valid program drawn for {task.name}"
    reference = tvm.compile(task.mod, target="llvm")
    for sch in samples:
        program = lower_opencl(sch.mod, board.target())
        assert "__local" not in program.source
        assert VECTOR_TYPE.search(program.source), program.source[:2000]
        arrays = random_arrays(program)
        got = device.run(program, arrays)
        expected = [tvm.runtime.tensor(a) for a in arrays]
        reference(*expected)
        np.testing.assert_allclose(got[-1], expected[-1].numpy(), rtol=1e-4, atol=1e-4)


def test_opencl_runner_times_programs_and_reports_failures(board, mobilenet_tasks, tmp_path):
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    task = mobilenet_tasks["matmul"]
    (sch,) = explore(task.mod, board, samples=1).samples
    good = lower_opencl(sch.mod, board.target()).save(tmp_path / "good.json")
    broken = OpenCLProgram.load(good)
    bad = OpenCLProgram("__kernel void main_kernel(", broken.kernels, broken.params, [])
    bad.save(tmp_path / "bad.json")
    args = ArgInfo.from_prim_func(task.mod["main"])
    runner = make_runner(board)
    inputs = [RunnerInput(str(p), "opencl", args) for p in (good, tmp_path / "bad.json")]
    ok, failed = [f.result() for f in runner.run(inputs)]
    assert ok.error_msg is None
    assert len(ok.run_secs) == len(fastest([1.0] * board.measure.repeat))  # measure/robust.py
    assert all(0 < float(s) < 1 for s in ok.run_secs)
    assert failed.run_secs is None and "OpenCLRunner" in failed.error_msg


def test_tiny_tune_build_run_on_mali_pocl_matches_litert(cli, tmp_path):
    """tune writes PoCL-measured records; build uses them; run executes the plan on PoCL."""
    recs, lib = tmp_path / "recs", tmp_path / "tiny.so"
    result = cli("tune", "tiny_fp32", "--board", "mali-pocl", "--trials", 4, "--records", recs,
                 "--final-top", 0, "--json")  # fmt: skip
    assert result.code == 0, result.err
    assert json.loads(result.out)["host_steal"] is None  # the host board only (PoCL: emulated)
    lines = (recs / "database_tuning_record.json").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    assert len(records) == 4
    run_secs = [float(s) for r in records for s in r[1][1]]
    assert run_secs and all(0 < s < 1 for s in run_secs)  # measured on PoCL, none failed
    again = cli("tune", "tiny_fp32", "--board", "mali-pocl", "--trials", 4, "--records", recs,
                "--final-top", 0)  # fmt: skip
    assert again.out.splitlines()[-2].endswith("not Mali GPU timings")  # by the estimate too

    result = cli("build", "tiny_fp32", "--board", "mali-pocl", "--records", recs, "-o", lib)
    assert result.code == 0, result.err
    assert "1/5 tasks tuned" in result.out or "2/5 tasks tuned" in result.out
    info = load_model(str(shipped_model("tiny_fp32.tflite"))).info
    x = random_inputs(info)[0]
    np.save(tmp_path / "in.npy", x)
    out = tmp_path / "out.npy"
    result = cli(
        "run",
        lib,
        "--board",
        "mali-pocl",
        "--input",
        tmp_path / "in.npy",
        "--output",
        out,
        "--repeat",
        2,
    )
    assert result.code == 0, result.err
    assert "not Mali GPU timings" in result.out
    (reference,) = LiteRTModel(shipped_model("tiny_fp32.tflite"), threads=1)([x])
    np.testing.assert_allclose(np.load(out), reference, rtol=1e-4, atol=1e-4)


def test_int8_model_on_mali_pocl_is_bit_exact_with_the_reference_kernels(cli, tmp_path):
    """tiny_int8's main names a pad's output and the next conv's output alike (`lv`): each
    value keeps a buffer of its own (one buffer for both let the conv read and overrun its own
    output: heap corruption, crashes, a hang). Run in a process of its own, with a deadline."""
    import subprocess
    import sys

    from edgetune.measure.opencl.model_plan import ModelPlan, plan_dir
    from edgetune.paths import REPO_DIR

    lib, out = tmp_path / "tiny8.so", tmp_path / "out.npy"
    assert cli("build", "tiny_int8", "--board", "mali-pocl", "-o", lib).code == 0
    outs = [c["out"] for c in ModelPlan.load(plan_dir(lib)).calls]
    assert len(set(outs)) == len(outs)
    info = load_model(str(shipped_model("tiny_int8.tflite"))).info
    x = random_inputs(info, seed=3)[0]
    np.save(tmp_path / "in.npy", x)
    run = subprocess.run(
        [sys.executable, "-m", "edgetune", "run", str(lib), "--board", "mali-pocl", "--input",
         str(tmp_path / "in.npy"), "--output", str(out)],  # fmt: skip
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    model = shipped_model("tiny_int8.tflite")
    (reference,) = LiteRTModel(model, threads=1, reference_kernels=True)([x])
    assert np.array_equal(np.load(out), reference)


def test_a_1x1_depthwise_conv_on_mali_pocl_adds_its_bias_once(cli, tmp_path):
    """A 1x1 depthwise conv (a per-channel scale, MediaPipe's hand re-crop has several) is a
    reduction whose axes all have extent 1; dlight's Fallback put the bias into its init and its
    update alike (the bias twice). Untuned, built for mali-pocl, it matches LiteRT."""
    from tflite_builder import Op, Tensor, write

    rng = np.random.default_rng(1)
    tensors = [
        Tensor("x", (1, 8, 8, 16)),
        Tensor("w", (1, 1, 1, 16), data=rng.standard_normal((1, 1, 1, 16)).astype(np.float32)),
        Tensor("b", (16,), data=rng.standard_normal(16).astype(np.float32)),
        Tensor("y", (1, 8, 8, 16)),
    ]
    valid_stride_1 = [(0, "int8", 1), (1, "int32", 1), (2, "int32", 1), (3, "int32", 1)]
    conv = Op("DEPTHWISE_CONV_2D", [0, 1, 2], [3], "DepthwiseConv2DOptions", valid_stride_1)
    path = write(tmp_path / "dw1x1.tflite", tensors, [conv], [0], [3])
    lib, out = tmp_path / "dw.so", tmp_path / "out.npy"
    assert cli("build", path, "--board", "mali-pocl", "-o", lib).code == 0
    x = rng.standard_normal((1, 8, 8, 16)).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    result = cli("run", lib, "--board", "mali-pocl", "--input", tmp_path / "in.npy", "--output",
                 out)  # fmt: skip
    assert result.code == 0, result.err
    (reference,) = LiteRTModel(path, threads=1)([x])
    np.testing.assert_allclose(np.load(out), reference, rtol=1e-5, atol=1e-5)


def test_tasks_without_a_valid_candidate_are_named_not_left_waiting(cli, tmp_path):
    """An int8 conv on the Mali set: every sample is rejected (VerifyGPUCode, the
    postprocessors), so no budget measures it; `tune` says so instead of asking for more
    --trials."""
    recs = tmp_path / "recs"
    args = ["tune", "probe_conv_int8", "--board", "mali-pocl", "--trials", 8, "--records", recs,
            "--no-library", "--final-top", 0, "--json"]  # fmt: skip
    for run in ("first", "again"):  # again, nothing left to measure: the same verdict
        result = cli(*args)
        assert result.code == 0, result.err
        report = json.loads(result.out)
        none = report["search"]["untuned_no_valid_candidate"]
        assert none and all("conv2d" in name for name in none), (run, none)
        assert not set(none) & set(report["tasks_not_yet_measured"])


def test_a_stateful_model_runs_on_mali_pocl_with_its_states(cli, tmp_path):
    """The streaming keyword spotter (6 resource variables, named "stream_11/states" in the
    .tflite) built for mali-pocl: its state buffers were kernel parameters named with a slash,
    which PoCL refused to compile ("use of undeclared identifier"); run for 4 steps, its outputs
    equal LiteRT's sequence."""
    from farm_support import STATEFUL, check_stateful_stream

    so = tmp_path / "kws_mali.so"
    assert cli("build", STATEFUL, "--board", "mali-pocl", "-o", so).code == 0
    report = check_stateful_stream(cli, "run", so, "mali-pocl", tmp_path)
    assert "not Mali GPU timings" in report["timing_note"]


def test_a_kernel_the_device_cannot_compile_is_one_line_naming_it(device):
    """A program the OpenCL compiler refuses: ModelError with the kernel and the compiler log's
    first error (it was pyopencl's RuntimeError, a traceback at `run`)."""
    from edgetune.errors import ModelError
    from edgetune.measure.opencl import KernelLaunch

    source = "__kernel void k(__global float* a/b) { }"
    params = [{"name": "a", "shape": [1], "dtype": "float32"}]
    program = OpenCLProgram(source, [KernelLaunch("k", [0], [1], [1])], params, [])
    with pytest.raises(ModelError, match=r"could not compile kernel k: .*expected '\)'"):
        device.compile(program)
