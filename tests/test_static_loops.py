"""WHILE loops with a trip count known at import are unrolled (converters/loops.py); others
keep TVM's recursive function. Both against LiteRT."""

from __future__ import annotations

import numpy as np
import pytest
from tflite_builder import rnn_loop

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.oracle.litert import LiteRTModel
from edgetune.runtime import load_artifact, load_executable


def _functions(model) -> list[str]:
    return [gv.name_hint for gv in model.mod.functions]


@pytest.mark.parametrize("data_dependent", [False, True], ids=["counter", "data-dependent"])
def test_rnn_loop_matches_litert(tmp_path, data_dependent):
    path = rnn_loop(tmp_path / "rnn.tflite", 5, data_dependent)
    model = load_model(path)
    recursive = [name for name in _functions(model) if "while" in name]
    # a counter against a constant bound: 5 steps in the graph, no loop function left
    assert bool(recursive) == data_dependent, _functions(model)
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    reference = LiteRTModel(path.read_bytes(), 1, True)
    for seed in range(2):
        x = np.random.default_rng(seed).standard_normal((5, 1, 4)).astype(np.float32)
        np.testing.assert_allclose(ours([x])[0], reference([x])[0], rtol=0, atol=1e-5)


def test_unrolled_steps_share_one_copy_of_the_weights(tmp_path):
    """Each step's FULLY_CONNECTED reads the same Relax constant (not a copy per step)."""
    from tvm import relax
    from tvm.ir.expr import GenericConst as Constant

    model = load_model(rnn_loop(tmp_path / "rnn.tflite", 6))
    constants: list = []

    def visit(node):
        weight = isinstance(node, Constant) and tuple(node.value.shape) == (4, 4)
        if weight and not any(node.same_as(c) for c in constants):
            constants.append(node)

    relax.analysis.post_order_visit(model.mod["main"], visit)
    assert len(constants) == 2  # W and U, whatever the step count


def test_concatenation_drops_empty_inputs(tmp_path):
    """An unrolled RNN's list of outputs starts empty: concatenating it left a kernel with
    zero-extent buffers, where MetaSchedule divided by zero while sampling schedules."""
    from tflite_builder import Op, Tensor, write

    from edgetune.tasks import for_model

    tensors = [
        Tensor("x", (1, 4)),
        Tensor("none", (0, 4), data=np.zeros((0, 4), np.float32)),
        Tensor("y", (1, 4)),
        Tensor("z", (1, 4)),
    ]
    ops = [
        Op("CONCATENATION", [1, 0], [2], "ConcatenationOptions"),
        Op("TANH", [2], [3]),
    ]
    path = write(tmp_path / "concat.tflite", tensors, ops, [0], [3])
    model = load_model(path)
    for task in for_model(model, load_board("host")).tasks:
        assert "T.int64(0), T.int64(4)" not in task.mod.script()
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    x = np.random.default_rng(0).standard_normal((1, 4)).astype(np.float32)
    np.testing.assert_allclose(
        ours([x])[0], LiteRTModel(path.read_bytes(), 1, True)([x])[0], atol=1e-6
    )


def test_a_list_written_step_by_step_becomes_one_concatenation(tmp_path):
    """A TensorList LSTM's SetItem per step (list = concat(list[:i], h_i, list[i+1:])),
    unrolled: the list is lowered to one concatenation of the steps' outputs. Before, FuseOps
    made the chain of lists one kernel whose reads doubled per step (PyIng's 60-step LSTM:
    MetaSchedule's space generation on it did not end in 20 minutes)."""
    from edgetune.tasks.model_tasks import for_model

    steps = 12
    path = rnn_loop(tmp_path / "rnn.tflite", steps, outputs_list=True)
    model = load_model(path)
    tasks = for_model(model, load_board("host"))
    concatenations = [t.mod.script().count('T.sblock("T_concat') for t in tasks]
    assert max(concatenations) == 1, concatenations
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    reference = LiteRTModel(path.read_bytes(), 1, True)
    for seed in range(2):
        x = np.random.default_rng(seed).standard_normal((steps, 1, 4)).astype(np.float32)
        got, want = ours([x]), reference([x])
        assert want[1].shape == (steps, 1, 4) and np.abs(want[1]).min() > 0  # every row written
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def test_a_kernel_too_large_to_search_is_left_untuned(tmp_path, cli, monkeypatch):
    """Steps written into a list: the list's concatenation fuses the outputs' reshapes into one
    kernel of steps + 1 blocks. Each search candidate replays its schedule over every block
    (PyIng's 152-block kernel: 1.4 s a candidate, a `tune` stuck for many minutes in one
    round): past MAX_SEARCH_BLOCKS (100; 20 here, to keep the test short) it is left to TVM's
    default schedule, named, and the budget goes to the others."""
    import json

    from edgetune.search import tune

    monkeypatch.setattr(tune, "MAX_SEARCH_BLOCKS", 20)
    MAX_SEARCH_BLOCKS = tune.MAX_SEARCH_BLOCKS  # noqa: N806
    steps = 24
    path = rnn_loop(tmp_path / "rnn.tflite", steps, outputs_list=True)
    recs = tmp_path / "recs"
    args = [path, "--records", recs, "--no-library", "--final-top", 0, "--trials", 4, "--json"]
    tuned = cli("tune", *args)
    assert tuned.code == 0, tuned.err
    report = json.loads(tuned.out)
    (name, why), *others = report["search"]["untuned_too_large"].items()
    assert not others and name.startswith("fused_expand_dims")
    assert why.startswith(f"{steps + 1} blocks (more than {MAX_SEARCH_BLOCKS}")
    assert "left untuned, too large to search" in tuned.err
    assert report["trials"] == 4  # the other tasks got the budget
    shown = cli("tasks", path).out.splitlines()  # its long name cut in the table
    assert any(str(steps + 1) in line and "fused_expand_dims" in line for line in shown)
    assert max(map(len, shown)) < 250
    lib = tmp_path / "rnn.so"
    assert cli("build", path, "--records", recs, "-o", lib).code == 0
    ours = load_artifact(lib, 1)
    reference = LiteRTModel(path.read_bytes(), 1, True)
    x = np.random.default_rng(0).standard_normal((steps, 1, 4)).astype(np.float32)
    for a, b in zip(ours([x]), reference([x])):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)


def _if_model(path):
    """x [1, 8] -> IF sum(x) > 0 (then: FULLY_CONNECTED(x, W); else: TANH(FULLY_CONNECTED(x, W)))
    with the weight W [4, 8] passed to the branches as an operand of the IF, as openWakeWord's
    classifiers do (their whole network in a branch)."""
    from tflite_builder import Op, Tensor, build, i32

    w = np.random.default_rng(7).standard_normal((4, 8)).astype(np.float32)
    main = [Tensor("x", (1, 8)), i32("axes", [0, 1]), Tensor("s", ()),
            Tensor("zero", (), data=np.array(0, np.float32)), Tensor("go", (), "bool"),
            Tensor("w", (4, 8), data=w), Tensor("y", (1, 4))]  # fmt: skip
    ops = [Op("SUM", [0, 1], [2], "ReducerOptions"), Op("GREATER", [2, 3], [4]),
           Op("IF", [4, 0, 5], [6], "IfOptions", [(0, "int32", 1), (1, "int32", 2)])]  # fmt: skip
    branch = [Tensor("bx", (1, 8)), Tensor("bw", (4, 8)), Tensor("by", (1, 4))]
    fc = Op("FULLY_CONNECTED", [0, 1, -1], [2], "FullyConnectedOptions")
    then = (branch, [fc], [0, 1], [2])
    tanh = (branch + [Tensor("bt", (1, 4))], [fc, Op("TANH", [2], [3])], [0, 1], [3])
    path.write_bytes(build(main, ops, [0], [6], more=[then, tanh]))
    return path


def test_an_if_branch_gets_its_weights_as_constants(tmp_path):
    """TVM passes an IF's operands to its branch functions as parameters, constants too: the
    branch transposed its FULLY_CONNECTED weight on every call (openWakeWord: 87 of 114 us).
    The weight is a constant inside the branch now (the transpose folds at build), and both
    branches still equal LiteRT."""
    from tvm import relax

    path = _if_model(tmp_path / "if.tflite")
    model = load_model(path)
    params = [
        tuple(int(d) for d in p.ty.shape)
        for f in model.mod.functions.values()
        if isinstance(f, relax.Function)
        for p in f.params
    ]
    assert (4, 8) not in params, params
    ours = load_executable(build_model(model, load_board("host"), None).exe, 1, info=model.info)
    reference = LiteRTModel(path.read_bytes(), 1, True)
    for sign in (1.0, -1.0):  # the then branch, the else branch
        x = sign * np.abs(np.random.default_rng(0).standard_normal((1, 8))).astype(np.float32)
        np.testing.assert_allclose(ours([x])[0], reference([x])[0], rtol=0, atol=1e-5)
