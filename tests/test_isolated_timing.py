"""Each engine timed in a process of its own (`oracle/isolated`), as `compare` and bench_host do."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pytest
from host_load_support import spin_on_cpu0

from edgetune.errors import EdgetuneError
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.oracle.isolated import LITERT, TVM, EngineRun, summary, time_rotating
from edgetune.paths import MODELS_DIR


def _foreign_spinner() -> int:
    """A process spinning on CPU 0 that is not ours (another process's load), spinning by the
    time this returns; its pid."""
    pid = spin_on_cpu0(own=False)
    time.sleep(0.5)
    return pid


def test_litert_in_its_own_process_gives_litert_outputs_and_rounds(tmp_path):
    path = MODELS_DIR / "tiny_fp32.tflite"
    x = random_inputs(load_model(path).info, seed=3)
    np.save(tmp_path / "x.npy", x[0])
    run = EngineRun(LITERT, str(path), 1, [str(tmp_path / "x.npy")], 4, outputs=str(tmp_path / "o"))
    (rounds,) = time_rotating([run], rounds=2)
    assert len(rounds) == 2 and all(r["repeat"] == 4 and 0 <= r["host_steal"] < 1 for r in rounds)
    (want,) = LiteRTModel(path, threads=1)(x)
    np.testing.assert_array_equal(np.load(tmp_path / "o.npz")["arr_0"], want)
    both = summary(rounds)
    assert both["rounds"] == 2 and both["repeat"] == 8 and len(both["round_medians_ms"]) == 2
    assert both["min_ms"] <= both["median_ms"] <= both["p90_ms"]


def test_a_failing_engine_process_names_the_engine_and_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 4), np.float32))
    run = EngineRun(TVM, str(tmp_path / "missing.so"), 1, [str(tmp_path / "x.npy")], 1)
    with pytest.raises(EdgetuneError, match="timing tvm on missing.so failed: .*missing.so"):
        time_rotating([run], rounds=1)


def test_compare_times_each_engine_in_rounds_of_its_own_processes(cli, monkeypatch):
    """One process per engine per round; a round's processes load side by side, then time one
    at a time, in an order rotating from round to round."""
    events = []
    from edgetune.oracle import isolated

    loaded, timed = isolated.EngineProcess.loaded, isolated.EngineProcess.time

    def spy_loaded(process):
        loaded(process)
        events.append(("loaded", process.run.engine, process._proc.pid))

    def spy_time(process):
        events.append(("timed", process.run.engine, process._proc.pid))
        result = timed(process)
        assert result["repeat"] == 3
        return result

    monkeypatch.setattr(isolated.EngineProcess, "loaded", spy_loaded)
    monkeypatch.setattr(isolated.EngineProcess, "time", spy_time)
    out = cli("compare", "tiny_fp32", "--repeat", 3, "--rounds", 2, "--json")
    assert out.code == 0, out.err
    result = json.loads(out.out)
    kinds = [(what, engine) for what, engine, _ in events]
    first = [("loaded", TVM), ("loaded", LITERT), ("timed", TVM), ("timed", LITERT)]
    second = [("loaded", TVM), ("loaded", LITERT), ("timed", LITERT), ("timed", TVM)]
    assert kinds == first + second
    timed_pids = [pid for what, _, pid in events if what == "timed"]
    assert len(set(timed_pids)) == 4  # a process of its own each time
    for engine in ("edgetune", "litert"):
        assert result[engine]["rounds"] == 2 and result[engine]["repeat"] == 6
        assert len(result[engine]["round_medians_ms"]) == 2
    assert result["timing"] == "each engine in its own process, rotating order"
    assert result["agreement"][0]["max_abs_diff"] <= 1e-5


def test_by_default_a_round_times_calls_enough_to_fill_a_quarter_second(cli):
    """A model of microseconds timed for 50 calls measures the thread pool's wake-up: without
    --repeat each engine's round runs as many calls as fill MIN_TIMED_S (at least 50)."""
    from edgetune.oracle import comparison_lines
    from edgetune.runtime.timing import MIN_TIMED_S

    out = cli("compare", "tiny_fp32", "--rounds", 1, "--json")
    assert out.code == 0, out.err
    result = json.loads(out.out)
    for engine in ("edgetune", "litert"):
        timed = result[engine]
        assert timed["repeat"] > 50 and timed["repeat"] * timed["mean_ms"] / 1e3 > MIN_TIMED_S / 2
    header = comparison_lines(result)[0]
    assert f"1 round x {result['edgetune']['repeat']}" in header and header.endswith(" calls:")


def test_a_busy_host_is_measured_and_named_in_the_comparison(cli):
    """Another process spinning while `compare` times the engines: each round says how many
    cores it took (a tiny model's timing is too short to tell: a short window after it is read
    instead), and the comparison names the cause in a note."""
    from edgetune.oracle import comparison_lines

    spinner = _foreign_spinner()
    try:
        out = cli("compare", "tiny_fp32", "--repeat", 3, "--rounds", 1, "--json")
    finally:
        os.kill(spinner, signal.SIGKILL)
    assert out.code == 0, out.err
    result = json.loads(out.out)
    assert result["edgetune"]["others_cores"] >= 0.5 and result["litert"]["others_cores"] >= 0.5
    assert any("other processes kept" in n for n in result["timing_notes"])
    notes = [line for line in comparison_lines(result) if line.startswith("note: other processes")]
    assert len(notes) == 1 and "time on a quiet machine" in notes[0]


def test_run_on_a_busy_host_says_so(cli, tmp_path):
    """`edgetune run` on the host notes other processes that kept cores busy while it timed."""
    lib = tmp_path / "tiny.so"
    assert cli("build", "tiny_fp32", "--board", "host", "-o", lib).code == 0
    spinner = _foreign_spinner()
    try:
        text = cli("run", lib, "--board", "host", "--repeat", 5)
        report = cli("run", lib, "--board", "host", "--repeat", 5, "--json")
    finally:
        os.kill(spinner, signal.SIGKILL)
    assert text.code == 0 and report.code == 0, text.err + report.err
    assert "note: other processes kept" in text.out
    assert json.loads(report.out)["others_cores"] >= 0.5


def test_profile_on_a_busy_host_says_so(cli):
    """`edgetune profile` on the host notes other processes that kept cores busy while it
    timed the kernels, in its verdict and as `others_cores`."""
    spinner = _foreign_spinner()
    try:
        out = cli("profile", "tiny_fp32", "--runs", 20, "--json")
    finally:
        os.kill(spinner, signal.SIGKILL)
    assert out.code == 0, out.err
    prof = json.loads(out.out)
    assert prof["others_cores"] >= 0.5
    assert "other processes kept" in prof["verdict"]


def test_tune_on_a_busy_host_says_so(cli, tmp_path):
    """`edgetune tune` on the host records the cores other processes kept busy while it tuned
    (`others_cores`) and ends with the same note as `run`, `compare` and `profile`."""
    args = ["tune", "tiny_fp32", "--records", tmp_path / "recs", "--search", "ms",
            "--final-top", 0, "--no-library"]  # fmt: skip
    spinner = _foreign_spinner()
    try:
        tuned = cli(*args, "--trials", 2, "--json")
        more = cli(*args, "--trials", 3)  # the summary for a person
        again = cli(*args, "--trials", 3)  # nothing left to measure: nothing timed
    finally:
        os.kill(spinner, signal.SIGKILL)
    assert tuned.code == 0 and more.code == 0 and again.code == 0, tuned.err + again.err
    result = json.loads(tuned.out)
    assert result["others_cores"] >= 0.5
    assert result["timing_note"].startswith("other processes kept")  # as run --json says it
    assert "note: other processes kept" in more.out
    assert "other processes kept" not in again.out  # it timed nothing: nothing to say of it


def test_a_model_xnnpack_cannot_prepare_is_compared_on_litert_builtin_kernels(tmp_path, cli):
    """An int8 depthwise conv whose multiplier is 2^10 (a left shift): XNNPACK refuses to
    prepare it, and compare stopped there ("LiteRT cannot run the model") though LiteRT's
    builtin and reference kernels run it. Now LiteRT runs on its builtin kernels, said so."""
    from tflite_builder import Op, Tensor, write

    rng = np.random.default_rng(0)
    w = rng.integers(-127, 128, (1, 3, 3, 16)).astype(np.int8)
    bias = rng.integers(-3000, 3000, 16).astype(np.int32)
    tensors = [Tensor("x", (1, 10, 10, 16), "int8", quant=(0.05, 3)),
               Tensor("w", w.shape, "int8", w, quant=(0.01, 0), quant_axis=3),
               Tensor("b", (16,), "int32", bias, quant=(0.05 * 0.01, 0)),
               Tensor("y", (1, 10, 10, 16), "int8", quant=(0.05 * 0.01 / 2**10, -1))]  # fmt: skip
    fields = [(0, "int8", 0), (1, "int32", 1), (2, "int32", 1), (3, "int32", 1)]
    op = Op("DEPTHWISE_CONV_2D", [0, 1, 2], [3], "DepthwiseConv2DOptions", fields)
    path = write(tmp_path / "dw_left_shift.tflite", tensors, [op], [0], [3])
    with pytest.raises(EdgetuneError, match=r"XNNPACK runtime; Node number 1"):
        LiteRTModel(path, 1)
    result = cli("compare", path, "--rounds", 1, "--repeat", 2, "--json")
    assert result.code == 0, result.err
    out = json.loads(result.out)
    assert out["litert_kernels"] == "builtin" and out["litert"]["median_ms"] > 0
    assert any(n.startswith("XNNPACK cannot prepare the model") for n in out["timing_notes"])
    for key in ("agreement", "agreement_reference_kernels"):
        (agreement,) = out[key]
        assert agreement["max_abs_diff"] == 0, key
    text = cli("compare", path, "--rounds", 1, "--repeat", 2)
    assert "LiteRT (builtin)" in text.out and "note: XNNPACK cannot prepare" in text.out
    assert "as timed above (its builtin kernels)" in text.out


def test_run_times_as_compare_does_by_default(tmp_path, cli):
    """`edgetune run` without --repeat: calls enough to fill MIN_TIMED_S (at least 50), as
    `compare`'s rounds; --repeat N times exactly N."""
    from edgetune.runtime.timing import MIN_TIMED_S

    lib = tmp_path / "tiny.so"
    assert cli("build", "tiny_fp32", "--no-library", "-o", lib).code == 0
    default = json.loads(cli("run", lib, "--json").out)["latency"]
    assert default["repeat"] > 50 and default["repeat"] * default["mean_ms"] / 1e3 > MIN_TIMED_S / 2
    assert json.loads(cli("run", lib, "--repeat", 7, "--json").out)["latency"]["repeat"] == 7
