"""The host board times candidates on the CPUs other processes leave free: a process spinning
on one CPU moves timing to the others (one pinned TVM thread each), times scaled by used / all."""

from __future__ import annotations

import subprocess
import sys

import pytest
from farm_support import candidate, matmul_func

from edgetune.board import load_board
from edgetune.measure import free_cores
from edgetune.measure.free_cores import FreeCoresRunner, cpu_busy, free_cpus

SPIN = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


@pytest.fixture
def spinner():
    """A foreign process keeping CPU 0 busy."""
    proc = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", SPIN])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_cpu_busy_reads_each_cpus_busy_share_of_proc_stat(tmp_path, monkeypatch):
    stat = tmp_path / "stat"
    stat.write_text("cpu  9 9 9 9 9 9 9 9\ncpu0 100 0 0 300 0 0 0 0 0 0\ncpu1 1 1 1 1 1 1 1 1\n")
    assert free_cores._cpu_jiffies(stat) == {0: (100, 400), 1: (6, 8)}
    reads = iter([{0: (100, 200), 1: (0, 200)}, {0: (190, 300), 1: (10, 300)}])
    monkeypatch.setattr(free_cores, "_cpu_jiffies", lambda _: next(reads))
    assert cpu_busy(window_s=0, stat=stat) == pytest.approx({0: 0.9, 1: 0.1})
    monkeypatch.undo()
    assert cpu_busy(window_s=0, stat=tmp_path / "missing") == {}


def test_free_cpus_are_the_ones_at_most_half_busy():
    assert free_cpus({0: 0.0, 1: 0.1}, 2) is None
    assert free_cpus({0: 0.9, 1: 0.1}, 2) == (1,)
    assert free_cpus({0: 0.9, 1: 0.7}, 2) == (1,)  # none free: the least busy
    assert free_cpus({0: 0.2, 1: 1.0, 2: 0.0, 3: 0.6}, 4) == (0, 2)
    assert free_cpus({}, 2) is None


def test_a_spinning_process_makes_its_cpu_busy(spinner):
    busy = cpu_busy(window_s=0.3)
    assert busy[0] >= 0.7
    assert 0 not in (free_cpus(busy, len(busy)) or ())


def test_batches_move_to_free_cpus_and_back(tmp_path, monkeypatch):
    board = load_board("host")
    cores = board.hardware.cores
    taken = iter([{0: 1.0, **{c: 0.0 for c in range(1, cores)}}, {c: 0.0 for c in range(cores)}])
    monkeypatch.setattr(free_cores, "cpu_busy", lambda: next(taken))
    runner = FreeCoresRunner(cores, 60, board.measure.evaluator())
    inputs = [candidate(matmul_func(), tmp_path / "c.so")]

    busy = [f.result() for f in runner.run(inputs)]
    quiet = [f.result() for f in runner.run(inputs)]
    assert not busy[0].error_msg and not quiet[0].error_msg
    assert all(float(s) > 0 for s in busy[0].run_secs)
    assert runner.reduced == 1 and runner.cpus is None
    pinned = tuple(range(1, cores)) or (0,)
    assert set(runner.runners) == {pinned, None}

    def worker_threads(cpus) -> int:
        import tvm

        pool = runner.runners[cpus].pool
        return pool.submit(lambda: tvm.get_global_func("runtime.NumThreads")()).result()

    assert worker_threads(pinned) == len(pinned)
