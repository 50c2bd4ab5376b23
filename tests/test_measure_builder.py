"""The candidate builder keeps its worker processes from one batch to the next and ends them on
close(): what made the family search's small batches cheap to build (docs/search.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.measure import make_builder
from edgetune.measure.builder import CANDIDATE_PREFIX, remove_orphaned_candidates
from edgetune.paths import MODELS_DIR
from edgetune.tasks import for_model
from edgetune.tvm_api import ms


def _build_workers() -> set[int]:
    """PIDs of this process's children that are TVM worker processes (builders or runners)."""
    me, pids = str(os.getpid()), set()
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue  # ended meanwhile
        if stat.rsplit(")", 1)[1].split()[1] == me and b"tvm.exec.popen_worker" in cmdline:
            pids.add(int(proc.name))
    return pids


def test_workers_are_kept_across_batches_and_ended_on_close():
    board = load_board("host")
    tasks = for_model(load_model(MODELS_DIR / "tiny_fp32.tflite"), board).tasks
    inputs = [ms.builder.BuilderInput(t.mod, board.target()) for t in tasks[:3]]
    before = _build_workers()  # runner workers other tests left behind
    builder = make_builder(board)
    first = builder.build(inputs)
    started = _build_workers() - before
    second = builder.build(inputs)
    kept = _build_workers() - before
    builder.close()
    assert _build_workers() - before == set()
    assert 1 <= len(started) <= builder.workers
    assert kept == started  # the second batch ran in the same processes
    for result in [*first, *second]:
        assert result.error_msg is None
        assert Path(result.artifact_path).read_bytes()[:4] == b"\x7fELF"  # a linked library
        folder = Path(result.artifact_path).parent.name
        assert folder.startswith(f"{CANDIDATE_PREFIX}{os.getpid()}-")  # named by its builder


def test_candidates_of_a_killed_tune_are_removed_by_the_next_builder(tmp_path):
    """A tune killed outright leaves its built candidates in /tmp (named by its pid); a builder
    removes those of processes that are gone, never a live one's."""
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    orphan = tmp_path / f"{CANDIDATE_PREFIX}{gone}-abc"
    live = tmp_path / f"{CANDIDATE_PREFIX}{os.getpid()}-def"
    older = tmp_path / f"{CANDIDATE_PREFIX}xyz"  # no pid in its name: left alone
    for folder in (orphan, live, older):
        folder.mkdir()
        (folder / "candidate.so").write_bytes(b"\x7fELF")
    assert remove_orphaned_candidates(tmp_path) == 1
    assert not orphan.exists() and live.exists() and older.exists()
