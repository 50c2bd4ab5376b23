"""TOPI's pooling blocks name a custom schedule rule nobody registers: tuned without a warning,
scheduled by the ordinary rules, with the records MetaSchedule's own fallback writes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from tflite_builder import Op, Tensor, write

from edgetune.board import load_board
from edgetune.compile.library import build_model
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.oracle import LiteRTModel
from edgetune.records import RecordStore
from edgetune.records.layout import TUNING_RECORDS
from edgetune.runtime.local import load_executable

WARNING = "Unknown schedule rule"
# Pool2DOptions: padding VALID, stride 2 x 2, filter 2 x 2
POOL_2X2 = [(0, "uint8", 1), (1, "int32", 2), (2, "int32", 2), (3, "int32", 2), (4, "int32", 2)]


def _pools(path):
    """x (1 x 8 x 8 x 16) -> MAX_POOL_2D 2x2/2 -> AVERAGE_POOL_2D 2x2/2."""
    tensors = [Tensor("x", (1, 8, 8, 16)), Tensor("m", (1, 4, 4, 16)), Tensor("a", (1, 2, 2, 16))]
    ops = [Op("MAX_POOL_2D", [0], [1], "Pool2DOptions", POOL_2X2),
           Op("AVERAGE_POOL_2D", [1], [2], "Pool2DOptions", POOL_2X2)]  # fmt: skip
    return write(path, tensors, ops, [0], [2])


def test_pooling_is_tuned_without_custom_rule_warnings_and_matches_litert(tmp_path):
    path, recs = _pools(tmp_path / "pools.tflite"), tmp_path / "recs"
    tune = [sys.executable, "-m", "edgetune", "tune", str(path), "--trials", "6",
            "--records", str(recs), "--no-library", "--final-top", "0", "--quiet"]  # fmt: skip
    done = subprocess.run(tune, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert WARNING not in done.stderr  # TVM logged it on every design-space generation

    # the mark is dropped as MetaSchedule's fallback drops it, and the ordinary rules schedule
    # the block: the same traces, so records tuned before still match
    traces = [json.loads(line)[1][0][0] for line in (recs / TUNING_RECORDS).open()]
    unmarked = [any(i[:1] + i[2:3] == ["Unannotate", ["schedule_rule"]] for i in t) for t in traces]
    assert traces and all(unmarked)
    assert any(inst[0] in ("Split", "RFactor") for t in traces for inst in t)

    model, board = load_model(path), load_board("host")
    built = build_model(model, board, RecordStore(recs, model.info, board))
    assert built.tuned == 2
    inputs = random_inputs(model.info, seed=4)
    (ours,) = load_executable(built.exe, board.hardware.cores, info=model.info)(inputs)
    (reference,) = LiteRTModel(path, threads=1)(inputs)
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6)
