"""Candidates are timed on random data, but integer indices are zero: a gather with random
indices reads out of bounds (TVM's `take` in fast mode does not check) and crashes the timer."""

from __future__ import annotations

import numpy as np
from farm_support import candidate

from edgetune.board import load_board
from edgetune.farm.arguments import random_array
from edgetune.measure.free_cores import FreeCoresRunner


def gather_func(rows: int = 4, frames: int = 4096):
    """A spectrogram's framing: rows of a table picked by an int32 index tensor."""
    from tvm import te, topi

    table = te.placeholder((rows, 64), "float32", name="table")
    index = te.placeholder((frames,), "int32", name="index")
    out = topi.take(table, index, axis=0, mode="fast")
    return te.create_prim_func([table, index, out]).with_attr("global_symbol", "main")


def test_a_gather_is_timed_without_reading_out_of_bounds(tmp_path):
    board = load_board("host")
    runner = FreeCoresRunner(board.hardware.cores, 60, board.measure.evaluator())
    result = runner.run([candidate(gather_func(), tmp_path / "gather.so")])[0].result()
    assert result.error_msg is None, result.error_msg
    assert all(float(s) > 0 for s in result.run_secs)


def test_random_arrays_keep_indices_in_range():
    rng = np.random.default_rng(0)
    floats = random_array("float32", (256,), rng)
    assert floats.dtype == np.float32 and 0 < np.abs(floats).max() <= 1
    for dtype in ("int32", "int64"):
        assert not random_array(dtype, (256,), rng).any()
    small = random_array("int8", (256,), rng)
    assert small.dtype == np.int8 and small.any() and np.abs(small).max() <= 8
