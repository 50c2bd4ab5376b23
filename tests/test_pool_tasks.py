"""Pooling tasks (`tasks.lower.without_unknown_rules`): TOPI names a custom schedule rule on its
pooling blocks that nothing implements; edgetune drops the name, so tuning prints no TVM
warning, and the blocks keep the search space the other rules give them."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.oracle import LiteRTModel
from edgetune.runtime import load_executable
from edgetune.tasks import for_model
from edgetune.tasks.lower import CUSTOM_RULE, _blocks


def pools(path):
    """x (1, 8, 8, 16) -> MAX_POOL_2D 2x2/2 -> AVERAGE_POOL_2D 2x2/2, VALID padding."""
    tensors = [Tensor("x", (1, 8, 8, 16)), Tensor("m", (1, 4, 4, 16)), Tensor("y", (1, 2, 2, 16))]
    window = [(0, "int8", 1), (1, "int32", 2), (2, "int32", 2), (3, "int32", 2), (4, "int32", 2)]
    ops = [
        Op("MAX_POOL_2D", [0], [1], "Pool2DOptions", window),
        Op("AVERAGE_POOL_2D", [1], [2], "Pool2DOptions", window),
    ]
    return write(path, tensors, ops, [0], [2])


def test_pool_blocks_name_no_custom_rule_and_match_litert(tmp_path):
    from edgetune.tvm_api import s_tir

    path = pools(tmp_path / "pools.tflite")
    model = load_model(path)
    board = load_board("host")
    tasks = for_model(model, board).tasks
    anchors = sorted(t.anchor for t in tasks)
    assert anchors == ["pool_max", "pool_sum"], anchors
    for task in tasks:
        named = [
            b.name_hint
            for b in _blocks(task.mod["main"].body, s_tir)
            if CUSTOM_RULE in b.annotations
        ]
        assert not named, (task.name, named)
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 16)).astype(np.float32)
    (got,) = load_executable(build_model(model, board, None).exe, 1)([x])
    (want,) = LiteRTModel(path, 1, builtin_kernels=True)([x])
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_a_pool_task_space_prints_no_tvm_warning_and_keeps_its_sketches(tmp_path):
    path = pools(tmp_path / "pools.tflite")
    cmd = [sys.executable, "-m", "edgetune", "space", "0", "--board", "host", "--model", str(path)]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=dict(os.environ))
    assert run.returncode == 0, run.stderr
    assert "Unknown schedule rule" not in run.stderr + run.stdout
    # the rules still tile and split the reduction, as when ApplyCustomRule passed the block on
    assert "== sketch 1/" in run.stdout and "_rf" in run.stdout, run.stdout
