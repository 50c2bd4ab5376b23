"""Real and real-shaped models: a stateful int8 streaming keyword spotter (resource variables),
and dynamic input dimensions, against LiteRT's reference kernels."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tflite
from farm_support import STATEFUL, check_stateful_stream
from tflite_builder import Op, Tensor, i32, write

from edgetune.board import load_board
from edgetune.compile import build_library
from edgetune.errors import ModelError
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.oracle.conformance import check_model
from edgetune.paths import MODELS_DIR, REPO_DIR
from edgetune.runtime import load_artifact
from edgetune.tvm_api import tflite_frontend


def test_stateful_model_carries_state_across_calls_like_litert(tmp_path):
    with pytest.raises(Exception, match="ASSIGN_VARIABLE"):  # stock TVM 0.27 refuses it
        tflite_frontend.from_tflite(tflite.Model.GetRootAsModel(STATEFUL.read_bytes(), 0))
    model = load_model(STATEFUL)
    assert len(model.info.states) == 6 and model.info.quantization == "int8"
    board = load_board("host")
    lib = build_library(model, board, None, tmp_path / "kws.so")
    ours, reference = load_artifact(lib.path, 1), LiteRTModel(STATEFUL, 1, builtin_kernels=True)
    initial = [s.copy() for s in ours.states]
    for step in range(4):  # a stream: every call sees the frames the previous ones left
        inputs = random_inputs(model.info, seed=step)
        (got,), (want,) = ours(inputs), reference(inputs)
        np.testing.assert_array_equal(got, want)
    assert any(not np.array_equal(a, b) for a, b in zip(initial, ours.states))


def test_stateful_model_conformance_is_bit_exact():
    result = check_model(STATEFUL, load_board("host"))
    assert result["status"] == "pass", result
    assert [o["error"] for o in result["outputs"]] == [0.0]


def test_a_stateful_model_with_an_inner_tensor_as_a_second_output(tmp_path):
    """Debugging a stream: the last FULLY_CONNECTED's output (the logits before LOGISTIC) made
    an output too. The states were attached after a tuple literal's items, which Relax cannot
    normalize ("Cannot normalize non-leaf without a scope": "the file may be damaged")."""
    from edgetune.oracle.substitute import pack, schema

    fb = schema()
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(STATEFUL.read_bytes(), 0))
    graph = model.subgraphs[0]
    fc = fb.BuiltinOperator.FULLY_CONNECTED
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
    last_fc = [op for op in graph.operators if codes[op.opcodeIndex] == fc][-1]
    graph.outputs = [*graph.outputs, last_fc.outputs[0]]
    path = tmp_path / "two_outputs.tflite"
    path.write_bytes(pack(model))
    result = check_model(path, load_board("host"))
    assert result["status"] == "pass", result
    assert [o["error"] for o in result["outputs"]] == [0.0, 0.0]


def test_conformance_of_a_tuned_build():
    """`check_model(tuned_trials=K)` (check_corpus --tuned): the model tuned K candidates a
    task, every task built with its record, compared with LiteRT."""
    from edgetune.paths import shipped_model

    result = check_model(shipped_model("tiny_fp32.tflite"), load_board("host"), tuned_trials=1)
    assert (result["status"], result["stage"], result["unapplied"]) == ("pass", "done", []), result
    tuned, total = map(int, result["tuned"].split("/"))
    assert tuned == total > 0


def test_run_steps_carry_states_on_the_host(tmp_path, cli):
    """`run --steps`: stacked --input frames, random inputs (a seed per step) and one frame
    for every step, all equal to LiteRT's sequence; step counts that disagree are refused."""
    so = tmp_path / "kws.so"
    assert cli("build", STATEFUL, "-o", so).code == 0
    check_stateful_stream(cli, "run", so, "host", tmp_path)
    info = load_model(STATEFUL).info
    frame = random_inputs(info, seed=7)[0]
    np.save(tmp_path / "frame.npy", frame)
    runs = {
        "random": ([], [random_inputs(info, seed)[0] for seed in range(3)]),
        "frame": (["--input", tmp_path / "frame.npy"], [frame] * 3),
    }
    for name, (args, frames) in runs.items():
        out = tmp_path / f"{name}.npy"
        result = cli("run", so, "--steps", "3", "--repeat", "1", "--output", out, *args)
        assert result.code == 0, result.err
        assert "3 invocation(s) in sequence, 6 state tensor(s) carried" in result.out
        reference = LiteRTModel(STATEFUL, 1, builtin_kernels=True)
        np.testing.assert_array_equal(np.load(out), np.stack([reference([x])[0] for x in frames]))
    bad = cli("run", so, "--input", tmp_path / "frames.npy", "--steps", "3")
    assert bad.code == 2
    assert (
        f"hold different numbers of steps ({tmp_path / 'frames.npy'}: 4; 3 steps asked for)"
        in bad.err
    )
    # --steps 0: an argument error (test_bad_arguments)


def test_compare_steps_a_stateful_model_through_both_engines(tmp_path, cli):
    """`compare --steps 3`: both engines invoke the stream three times, states carried, and
    every step's outputs agree bit for bit with LiteRT's reference kernels."""
    res = cli("compare", STATEFUL, "--steps", 3, "--repeat", 2, "--rounds", 1, "--json")
    assert res.code == 0, res.err
    result = json.loads(res.out)
    assert result["steps"] == 3
    (exact,) = result["agreement_reference_kernels"]
    size = int(np.prod(load_model(STATEFUL).info.outputs[0].shape))
    assert exact["max_abs_diff"] == 0 and sum(exact["lsb_histogram"].values()) == 3 * size
    text = cli("compare", STATEFUL, "--steps", 2, "--repeat", 2, "--rounds", 1).out
    assert "2 steps in sequence (outputs of all compared, latency the last's)" in text


def dynamic_model(path):
    """y = x * 2 with both dimensions of x dynamic (shape_signature [-1, -1])."""
    two = Tensor("two", (1,), data=np.array([2.0], np.float32))
    tensors = [
        Tensor("x", (1, 1), signature=(-1, -1)),
        two,
        Tensor("y", (1, 1), signature=(-1, -1)),
    ]
    return write(path, tensors, [Op("MUL", [0, 1], [2], "MulOptions")], [0], [2])


def test_input_shapes_the_models_fixed_shapes_refuse_are_named_as_the_cause(tmp_path):
    """x [-1, 6] reshaped to a fixed [2, 3]: batch 1 imports; batch 2 cannot, and the error
    names the input shape given (not a damaged file), on one line, with no TVM warning after
    it (the executable, in a process of its own)."""
    tensors = [Tensor("x", (1, 6), signature=(-1, 6)), i32("shape", [2, 3]), Tensor("y", (2, 3))]
    path = write(tmp_path / "fixed_reshape.tflite", tensors, [Op("RESHAPE", [0, 1], [2])], [0], [2])
    assert load_model(path, input_shapes={"x": (1, 6)}).info.outputs[0].shape == (2, 3)
    run = subprocess.run(
        [sys.executable, "-m", "edgetune", "tasks", str(path), "--input-shape", "x=2,6"],
        env={**os.environ, "PYTHONPATH": str(REPO_DIR)}, capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr  # the error line and nothing after it
    assert "the input shapes given (x=2,6) do not fit the model's own fixed shapes" in run.stderr
    assert "damaged" not in run.stderr


def test_dynamic_dimensions_need_a_shape(tmp_path, cli):
    path = dynamic_model(tmp_path / "dyn.tflite")
    with pytest.raises(
        ModelError, match=r"dynamic input dimensions \(-1\) in x \[-1, -1\].*--input-shape"
    ):
        load_model(path)
    result = check_model(path, load_board("host"), input_shapes={"x": (3, 5)})
    assert result["status"] == "pass", result
    assert load_model(path, input_shapes={"x": (3, 5)}).info.outputs[0].shape == (3, 5)
    ok = cli("tasks", path, "--input-shape", "x=3,5")
    assert ok.code == 0, ok.err
    bad = cli("tasks", path, "--input-shape", "x=3")
    assert bad.code == 2 and "does not fit the input's declared shape [-1, -1]" in bad.err
    missing = cli("tasks", path)
    assert missing.code == 2 and "--input-shape" in missing.err and "\n" not in missing.err.strip()
    np.save(tmp_path / "in.npy", np.ones((2, 7), np.float32))
    from_npy = cli("compare", path, "--input", tmp_path / "in.npy", "--repeat", "1", "--json")
    assert from_npy.code == 0, from_npy.err
    assert '"max_abs_diff": 0.0' in from_npy.out


def test_a_records_folder_keeps_the_input_shapes_it_was_tuned_with(tmp_path, cli):
    """Tuned at x=3,5: `build` takes that shape from the folder; tuning or building the same
    folder at x=4,5 (other kernels) is refused naming the shape to pass, not mixed in."""
    path, recs = dynamic_model(tmp_path / "dyn.tflite"), tmp_path / "recs"
    tune = ["tune", path, "--records", recs, "--no-library", "--final-top", "0"]
    assert cli(*tune, "--trials", "2", "--input-shape", "x=3,5").code == 0
    records = (recs / "database_tuning_record.json").read_text()
    built = cli("build", path, "--records", recs, "-o", tmp_path / "m.so")
    assert built.code == 0 and "1/1 tasks tuned" in built.out + built.err, built
    for command in (tune + ["--trials", "4"], ["build", path, "--records", recs, "-o", "n.so"]):
        res = cli(*command, "--input-shape", "x=4,5")
        assert res.code == 2 and "was tuned with other input shapes than x=4,5" in res.err
        assert "pass --input-shape x=3,5, or use another records folder" in res.err
    assert (recs / "database_tuning_record.json").read_text() == records  # nothing mixed in


def test_a_model_litert_cannot_invoke_is_one_line_naming_the_inputs(monkeypatch):
    """LiteRT refusing an invocation (a WHILE loop whose shapes are fixed to batch 1, given 3)
    is a ModelError naming the inputs, not a traceback from `compare`."""
    from edgetune.oracle.litert import LiteRTModel

    model = LiteRTModel(MODELS_DIR / "tiny_fp32.tflite", threads=1)

    def refuse():
        raise RuntimeError("Node number 5 (WHILE) failed to invoke.\nmore")

    monkeypatch.setattr(model.interpreter, "invoke", refuse)
    x = np.zeros((1, 32, 32, 3), np.float32)
    for call in (lambda: model([x]), lambda: model.bench([x], 3)):
        with pytest.raises(ModelError, match=r"LiteRT cannot run the model on inputs .* \[1, 32, "
                           r"32, 3\]: Node number 5 \(WHILE\) failed to invoke\.$"):  # fmt: skip
            call()


def test_unsupported_op_message_names_ops_and_what_to_do(tmp_path, cli):
    tensors = [Tensor("x", (1, 4)), Tensor("y", (1, 4)), Tensor("z", (1, 4))]
    ops = [Op("CUSTOM:MyOp", [0], [1]), Op("CUSTOM:MyOp", [1], [2])]
    path = write(tmp_path / "custom.tflite", tensors, ops, [0], [2])
    result = cli("build", path, "-o", tmp_path / "m.so")
    assert result.code == 2
    assert "unsupported TFLite operators: CUSTOM:MyOp x2" in result.err
    assert "`edgetune ops`" in result.err
    listing = cli("ops", "--json")
    assert listing.code == 0
    assert "CUSTOM:Convolution2DTransposeBias" in listing.out and '"STRIDED_SLICE"' in listing.out
