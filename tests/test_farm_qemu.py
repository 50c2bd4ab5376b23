"""The emulated Cortex-A53 board: TVM's aarch64 rpc server under qemu-user, prepared in the
cache on first use (about 30-60 s and ~250 MB of downloads once; cached afterwards) and started
under a tracker by `edgetune farm up`. Emulated timings are never checked: they are not A53
timings."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from farm_support import STATEFUL, check_stateful_stream, env_vars, matmul_func, write_board
from int8_support import pointwise_conv_task, realistic_args, tensorized_schedule
from tflite_builder import fully_connected, stft_frames, uint8_network

from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.farm import strategies
from edgetune.farm.drivers.rpc_server import free_port
from edgetune.farm.resources import farm_spec
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.measure.farm_runners import FarmRPCRunner
from edgetune.paths import REPO_DIR, shipped_model
from edgetune.quant.float_requantization import FIXED_POINT, FP32

FAILED = 1e10


@pytest.fixture(scope="module")
def a53(tmp_path_factory):
    root = tmp_path_factory.mktemp("qemu")
    text = (REPO_DIR / "boards/qemu-a53.toml").read_text()
    text = text.replace("127.0.0.1:9190", f"127.0.0.1:{free_port()}")
    text = text.replace("port = 9090", f"port = {free_port()}")
    write_board(root / "boards", "qemu-a53", text)
    with env_vars(EDGETUNE_BOARDS=str(root / "boards"), EDGETUNE_FARM_DIR=str(root / "state")):
        try:
            assert main(["farm", "up", "--board", "qemu-a53"]) == 0
            yield load_board("qemu-a53"), root
        finally:
            strategies.down()


def test_status_reports_the_emulated_board_healthy(a53, capsys):
    capsys.readouterr()
    assert main(["farm", "status", "--board", "qemu-a53", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    (server,) = row["servers"]
    assert (server["launch"], server["registered"], server["health"]) == ("qemu", True, "ok")


def test_cross_compiled_tiny_model_matches_litert(a53, tmp_path, capsys):
    from edgetune.oracle.litert import LiteRTModel

    model_path = shipped_model("tiny_fp32.tflite")
    so = tmp_path / "tiny_a53.so"
    assert main(["build", str(model_path), "--board", "qemu-a53", "-o", str(so)]) == 0
    assert so.read_bytes()[18] == 0xB7  # ELF e_machine = EM_AARCH64
    (x,) = random_inputs(load_model(model_path).info, seed=5)
    np.save(tmp_path / "x.npy", x)
    code = main(["run", str(so), "--board", "qemu-a53", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--repeat", "2"])  # fmt: skip
    assert code == 0
    assert "note: EMULATED" in capsys.readouterr().out
    (ref,) = LiteRTModel(model_path, threads=1)([x])
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ref, rtol=1e-4, atol=1e-4)
    capsys.readouterr()
    code = main(["deploy", str(so), "--board", "qemu-a53", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "z.npy"), "--repeat", "1", "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["via"], report["emulated"]) == ("rpc", True)  # timings flagged as emulated
    assert "EMULATED" in report["timing_note"]
    np.testing.assert_allclose(np.load(tmp_path / "z.npy"), ref, rtol=1e-4, atol=1e-4)


def test_spectrogram_fft_kernel_matches_litert_on_the_emulated_board(a53, tmp_path, cli):
    """tf.signal.stft's RFFT2D (`frontend/converters/fourier.py`: rows in vector lanes, NEON's
    4 lanes half a group) cross-compiled for the A53 and run there: equal to LiteRT."""
    from edgetune.oracle.litert import LiteRTModel

    model_path = stft_frames(tmp_path / "stft.tflite")
    so = tmp_path / "stft_a53.so"
    assert cli("build", model_path, "--board", "qemu-a53", "-o", so).code == 0
    x = np.random.default_rng(3).standard_normal((1, 256)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    run = cli("run", so, "--board", "qemu-a53", "--input", tmp_path / "x.npy", "--output",
              tmp_path / "y.npz", "--repeat", "1")  # fmt: skip
    assert run.code == 0
    outputs = np.load(tmp_path / "y.npz")
    for i, expected in enumerate(LiteRTModel(model_path, threads=1)([x])):  # |X|, real part
        np.testing.assert_allclose(outputs[f"output_{i}"], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", ["uint8_network", "probe_block_int8"])
def test_integer_kernels_are_exact_on_the_emulated_board(a53, tmp_path, cli, model):
    """Cross-compiled for the A53, equal to LiteRT's reference kernels there too: TF1-style
    uint8 convs, depthwise conv and FULLY_CONNECTED (uint8 weights with zero points: int8
    weights plus a window-sum term); an int8 block whose ReLU6 convs requantize without
    SRDHM's 2^30 add (`ChannelRequantization.without_nudge`)."""
    from edgetune.oracle.litert import LiteRTModel

    if model == "uint8_network":
        model_path = uint8_network(tmp_path / "u8.tflite")
    else:
        model_path = shipped_model(f"{model}.tflite")
    so = tmp_path / "u8_a53.so"
    assert cli("build", model_path, "--board", "qemu-a53", "-o", so).code == 0
    (x,) = random_inputs(load_model(model_path).info, seed=4)
    np.save(tmp_path / "x.npy", x)
    run = cli("run", so, "--board", "qemu-a53", "--input", tmp_path / "x.npy", "--output",
              tmp_path / "y.npz", "--repeat", "1")  # fmt: skip
    assert run.code == 0
    outputs = np.load(tmp_path / "y.npz")
    reference = LiteRTModel(model_path, threads=1, reference_kernels=True)([x])
    for i, expected in enumerate(reference):
        np.testing.assert_array_equal(outputs[f"output_{i}"], expected)


def test_stateful_model_carries_its_states_on_the_emulated_board(a53, tmp_path, cli):
    """The streaming int8 model (6 resource variables) cross-compiled for the A53 and run for 4
    steps through the tracker session: states carried on the board, equal to LiteRT's sequence
    (its latency is emulated, only its label is checked)."""
    so = tmp_path / "kws_a53.so"
    assert cli("build", STATEFUL, "--board", "qemu-a53", "-o", so).code == 0
    report = check_stateful_stream(cli, "run", so, "qemu-a53", tmp_path)
    assert "EMULATED" in report["timing_note"]


def _tuned_on_a53(model_path, tmp_path, trials: int, per_round: int) -> str:
    """Tune `model_path` on the emulated A53 (ms search); its records' text."""
    from edgetune.records import TUNING_RECORDS
    from edgetune.report import make_report, write_report

    recs = tmp_path / "recs"
    tune = ["tune", str(model_path), "--board", "qemu-a53", "--trials", str(trials), "--records",
            str(recs), "--search", "ms", "--per-round", str(per_round), "--no-library",
            "--final-top", "0"]  # fmt: skip
    assert main(tune) == 0
    report = write_report(make_report(recs), tmp_path / "r.md", "md").read_text()
    assert "EMULATED timings: qemu-a53 is an emulated board" in report  # never the board's speed
    return (recs / TUNING_RECORDS).read_text()


def _built_on_a53_matches_litert(model_path, tmp_path, seed: int) -> None:
    """Build with the records `_tuned_on_a53` made, run on the emulated A53, compare."""
    from edgetune.oracle.litert import LiteRTModel

    so = tmp_path / "tuned_a53.so"
    build = ["build", str(model_path), "--board", "qemu-a53", "--records", str(tmp_path / "recs"),
             "-o", str(so)]  # fmt: skip
    assert main(build) == 0
    (x,) = random_inputs(load_model(model_path).info, seed=seed)
    np.save(tmp_path / "x.npy", x)
    code = main(["run", str(so), "--board", "qemu-a53", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--repeat", "1"])  # fmt: skip
    assert code == 0
    (ref,) = LiteRTModel(model_path, threads=1)([x])
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), ref, rtol=1e-4, atol=1e-4)


def test_prepacked_tuned_model_matches_litert_on_the_emulated_board(a53, tmp_path):
    """Tuned on the emulated A53 (layout-rewritten candidates), built with the weights packed
    for the A53 kernels, run there: equal to LiteRT."""
    model_path = shipped_model("tiny_fp32.tflite")
    assert '"TransformLayout"' in _tuned_on_a53(model_path, tmp_path, trials=6, per_round=2)
    _built_on_a53_matches_litert(model_path, tmp_path, seed=9)


def test_outputs_not_dividing_into_neon_vectors_are_right_on_the_emulated_board(a53, tmp_path):
    """10 outputs on 4 NEON lanes: one innermost tile of all 10 (2.5 registers, no partial
    vector: `rules/cpu_tiling.py`), tuned there, packed weights, equal to LiteRT."""
    model_path = fully_connected(tmp_path / "fc10.tflite", 10)
    records = _tuned_on_a53(model_path, tmp_path, trials=4, per_round=4)
    assert "tiling_structure" in records and '"None",4]' not in records  # no partial vector
    # each record's arguments: x [1, 64], the weights as packed (k split or not), y [1, 10]
    weights = re.findall(
        r'\[\["TENSOR","float32",\[1,64\]\],\["TENSOR","float32",\[([\d,]+)\]\]', records
    )
    assert len(weights) == 4 and {w.split(",")[-1] for w in weights} == {"10"}  # 10-wide tile
    _built_on_a53_matches_litert(model_path, tmp_path, seed=4)


def test_tunes_a_small_task_on_the_emulated_board(a53, tmp_path):
    from tvm.s_tir import meta_schedule as ms

    from edgetune.measure import make_builder
    from edgetune.search import tune_tir

    board, _ = a53
    runner = FarmRPCRunner(board)
    (tmp_path / "db").mkdir()
    database = ms.database.JSONDatabase(work_dir=str(tmp_path / "db"))
    tune_tir(
        matmul_func(16),
        board.target(),
        tmp_path / "work",
        2,
        per_round=2,
        builder=make_builder(board),
        runner=runner,
        database=database,
    )
    records = database.get_all_tuning_records()
    assert len(records) == 2
    measured = [[float(s) for s in r.run_secs] for r in records]
    assert any(s != [FAILED] for s in measured), runner.lost  # timed on the emulated A53
    assert sum(runner.served.values()) == sum(s != [FAILED] for s in measured)


def test_tensorized_int8_kernels_are_right_on_the_emulated_board(a53, tmp_path):
    """The NEON-tensorized integer conv with either requantization (fixed-point, fp32),
    cross-compiled for the A53 and run on the emulated board in one session, computes what the
    untuned kernel computes on the host."""
    import tvm
    from tvm import rpc

    board, _ = a53
    spec = farm_spec(board)
    sess = rpc.connect_tracker(spec.tracker_host, spec.tracker_port).request(spec.key)
    for requantization in (FIXED_POINT, FP32):
        task = pointwise_conv_task(board, requantization)
        lib = tvm.compile(tensorized_schedule(board, task).mod, target=board.target())
        assert "smull" in lib.mod.inspect_source("asm")
        path = tmp_path / f"conv_neon_{requantization}.so"
        lib.export_library(str(path), fcompile=board.toolchain().fcompile())
        args = realistic_args(task.mod["main"], seed=3)
        expected = [tvm.runtime.tensor(x) for x in args]
        tvm.compile(task.mod, target="llvm")(*expected)

        sess.upload(str(path))
        remote = sess.load_module(path.name)
        got = [tvm.runtime.tensor(x, sess.cpu()) for x in args]
        remote(*got)
        out = got[-1].numpy()
        del remote, got
        np.testing.assert_array_equal(out, expected[-1].numpy(), err_msg=requantization)
        assert len(np.unique(out)) > 50  # not all saturated or at the zero point
