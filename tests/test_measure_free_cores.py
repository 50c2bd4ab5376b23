"""The host board times candidates on the CPUs other processes leave free: a process spinning
on one CPU moves timing to the others (one pinned TVM thread each), times scaled by used / all;
edgetune's own processes never count as other processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from farm_support import candidate, matmul_func
from host_load_support import spin_on_cpu0

from edgetune.board import load_board
from edgetune.measure import free_cores
from edgetune.measure.free_cores import (
    CpuReading,
    FreeCoresRunner,
    HostLoad,
    free_cpus,
    host_load,
    load_between,
    scaled_timing,
)
from edgetune.measure.robust import FastestRepeatsRunner
from edgetune.measure.timing_turn import timing_turn


@pytest.fixture
def spinner(request):
    pid = spin_on_cpu0(request.param == "own")
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGKILL)
        if request.param == "own":
            os.waitpid(pid, 0)


def _fake_proc(root, cpus: list[tuple[int, int]], own: int, child: int):
    """A /proc with /proc/stat (busy, idle jiffies per CPU), this process and one child."""
    lines = ["cpu  9 9 9 9 9 9 9 9"]
    lines += [f"cpu{i} {b} 0 0 {idle} 0 0 0 0 0 0" for i, (b, idle) in enumerate(cpus)]
    (root / "stat").write_text("\n".join(lines) + "\n")
    pid = os.getpid()
    for p, ppid, ticks in [(pid, 1, own), (pid + 1, pid, child), (pid + 2, 1, 500)]:
        (root / str(p)).mkdir(exist_ok=True)
        rest = " ".join(["0"] * 9 + [str(ticks), "0", "0", "0"] + ["0"] * 30)
        (root / str(p) / "stat").write_text(f"{p} (py thon) S {ppid} {rest}\n")


def test_host_load_subtracts_this_process_and_its_children(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    _fake_proc(tmp_path, [(100, 100), (0, 200)], own=10, child=5)
    assert free_cores._cpu_jiffies(tmp_path) == {0: (100, 200), 1: (0, 200)}
    assert free_cores._own_jiffies(tmp_path, os.getpid()) == 15
    states = iter([([(100, 100), (0, 200)], 10, 5), ([(190, 110), (50, 250)], 40, 25)])

    def sleep(_):  # the window: CPU 0 90 % busy, CPU 1 50 %, of which 50 ticks are ours
        _fake_proc(tmp_path, *next(states))

    next(states)
    monkeypatch.setattr(free_cores.time, "sleep", sleep)
    load = host_load(window_s=0, proc=tmp_path)
    assert load.busy == pytest.approx({0: 0.9, 1: 0.5})
    assert load.own == pytest.approx(0.5) and load.foreign == pytest.approx(0.9)
    assert host_load(window_s=0, proc=tmp_path / "missing") == HostLoad({})


def test_free_cpus_only_under_foreign_load():
    assert free_cpus(HostLoad({0: 0.0, 1: 0.1}), 2) is None
    assert free_cpus(HostLoad({0: 0.9, 1: 0.1}), 2) == (1,)
    assert free_cpus(HostLoad({0: 0.9, 1: 0.1}, own=0.8), 2) is None  # edgetune's own work
    assert free_cpus(HostLoad({0: 0.9, 1: 0.7}), 2) == (1,)  # none free: the least busy
    assert free_cpus(HostLoad({0: 0.2, 1: 1.0, 2: 0.0, 3: 0.6}), 4) == (0, 2)
    assert free_cpus(HostLoad({}), 2) is None


@pytest.mark.parametrize("spinner", ["foreign", "own"], indirect=True)
def test_a_spinning_process_counts_unless_it_is_ours(spinner, request):
    load = host_load(window_s=0.3)
    assert load.busy[0] >= 0.7
    if request.node.callspec.params["spinner"] == "own":
        assert load.own >= 0.7  # so it never counts as foreign
    else:
        assert load.own < 0.3 and load.foreign >= 0.7


def test_batches_move_to_free_cpus_and_back(tmp_path, monkeypatch):
    board = load_board("host")
    cores = board.hardware.cores
    busy_cpu0 = HostLoad({0: 1.0, **{c: 0.0 for c in range(1, cores)}})
    quiet = HostLoad({c: 0.0 for c in range(cores)})
    loads = iter([busy_cpu0, quiet, busy_cpu0, busy_cpu0, quiet])
    monkeypatch.setattr(free_cores, "host_load", lambda: next(loads))
    monkeypatch.setattr(CpuReading, "now", lambda: None)  # unsure between batches: a window each
    runner = FreeCoresRunner(cores, 60, board.measure.evaluator())
    inputs = [candidate(matmul_func(), tmp_path / "c.so")]

    results, cpus, logged = [], [], []
    for _ in range(5):  # a one-batch burst moves nothing; a load seen twice moves timing
        results.append([f.result() for f in runner.run(inputs)][0])
        cpus.append(runner.cpus)
        logged.append(scaled_timing(FastestRepeatsRunner(runner)))  # as the batch log says
    pinned = tuple(range(1, cores)) or (0,)
    assert cpus == [None, None, None, pinned, None]
    scaled = {"cpus": list(pinned), "factor": len(pinned) / cores}
    assert logged == [None, None, None, scaled, None]
    assert not any(r.error_msg for r in results)
    assert all(float(s) > 0 for s in results[3].run_secs)
    assert runner.reduced == 1
    assert set(runner.runners) == {pinned, None}

    def worker_threads(cpus) -> int:
        import tvm

        pool = runner.runners[cpus].pool
        return pool.submit(lambda: tvm.get_global_func("runtime.NumThreads")()).result()

    assert worker_threads(pinned) == len(pinned)


def test_a_host_quiet_since_the_last_batch_needs_no_window(tmp_path, monkeypatch):
    """Between two batches edgetune itself works (own jiffies); only other processes' use, over
    an interval long enough to tell, sends the next batch to the sleeping window. Batches too
    close to tell (a small task's) take no window either: the next looks back over both."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    _fake_proc(tmp_path, [(100, 100), (0, 200)], own=10, child=5)
    start = CpuReading.now(tmp_path)
    _fake_proc(tmp_path, [(180, 120), (60, 240)], own=100, child=35)  # 120 of 140 busy ours
    assert load_between(start, CpuReading.now(tmp_path)).foreign < free_cores.FOREIGN_HINT
    _fake_proc(tmp_path, [(190, 110), (90, 210)], own=100, child=35)  # 60 ticks someone else's
    assert load_between(start, CpuReading.now(tmp_path)).foreign > free_cores.FOREIGN_HINT
    _fake_proc(tmp_path, [(105, 105), (5, 205)], own=15, child=5)  # 10 ticks: too short to tell
    assert load_between(start, CpuReading.now(tmp_path)) is None
    assert load_between(None, start) is None and CpuReading.now(tmp_path / "missing") is None

    board = load_board("host")
    windows = []
    monkeypatch.setattr(free_cores, "host_load", lambda: windows.append(1) or HostLoad({}))
    # cpu0's (busy, total) jiffies at each batch: a first reading; 5 ticks later (too short to
    # tell); 30 ticks after the first, 2 busy (quiet); 30 more, 28 busy, none ours (a window)
    counts = [(0, 0), (1, 5), (2, 30), (30, 60)]
    readings = iter([CpuReading({0: c}, own=0) for c in counts])
    monkeypatch.setattr(CpuReading, "now", lambda: next(readings))
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0})
    runner = FreeCoresRunner(board.hardware.cores, 60, board.measure.evaluator())
    inputs = [candidate(matmul_func(), tmp_path / "c.so")]
    anchors = []
    for _ in counts:
        assert not [f.result() for f in runner.run(inputs)][0].error_msg
        anchors.append(runner.reading.cpus[0])
    assert anchors == [(0, 0), (0, 0), (2, 30), (30, 60)]
    assert len(windows) == 2  # the first batch's, the busy interval's
    assert runner.cpus is None and runner.reduced == 0


def test_steal_clock_reports_the_share_of_cpu_time_the_hypervisor_took(tmp_path):
    """Steal (the 8th counter of each cpuN line) over all counters of all CPUs since the start;
    no /proc: 0."""
    stat = tmp_path / "stat"
    head = "cpu  9 9 9 9 9 9 9 9\n"
    stat.write_text(head + "cpu0 100 0 0 100 0 0 0 0 0 0\ncpu1 50 0 0 150 0 0 0 0\n")
    clock = free_cores.StealClock.start(tmp_path)
    stat.write_text(head + "cpu0 160 0 0 110 0 0 0 30 0 0\ncpu1 90 0 0 200 0 0 0 10\n")
    assert clock.share(tmp_path) == pytest.approx(40 / 200)  # cpu0 +100 (30 stolen), cpu1 +100
    assert free_cores.StealClock.start(tmp_path / "none").share(tmp_path / "none") == 0.0


def test_foreign_cores_between_two_readings_and_the_note_they_give():
    """Cores other processes kept busy: all CPUs' busy share less this process's own; a note
    from a quarter of a core up."""
    from edgetune.measure.free_cores import busy_note, foreign_cores

    cpu = min(os.sched_getaffinity(0))
    before = CpuReading({cpu: (0, 0)}, own=0)
    after = CpuReading({cpu: (100, 100)}, own=20)  # busy all along, a fifth of it ours
    assert foreign_cores(before, after) == pytest.approx(0.8)
    assert busy_note(None) is None and busy_note(0.1) is None
    assert "1.0 of this machine's cores busy" in busy_note(1.0)


def test_a_timing_too_short_to_tell_is_read_over_a_longer_interval(monkeypatch):
    """A 2 ms timing counts one jiffy or none per CPU: another process's one jiffy in it would
    read as a whole core (compare said "other processes kept 0.3 cores busy" on an idle
    machine). The interval is stretched by a sleep to HINT_MIN_TICKS jiffies."""
    from edgetune.measure.free_cores import HINT_MIN_TICKS, foreign_cores

    cpu = min(os.sched_getaffinity(0))
    before = CpuReading({cpu: (0, 0)}, own=0)
    after = CpuReading({cpu: (1, 1)}, own=0)  # one jiffy, someone else's
    later = CpuReading({cpu: (1, HINT_MIN_TICKS + 1)}, own=0)  # then idle
    slept = []
    monkeypatch.setattr(free_cores.time, "sleep", slept.append)
    monkeypatch.setattr(free_cores.CpuReading, "now", staticmethod(lambda proc=None: later))
    assert foreign_cores(before, after) == pytest.approx(1 / (HINT_MIN_TICKS + 1))
    assert slept == [pytest.approx(HINT_MIN_TICKS / os.sysconf("SC_CLK_TCK"))]


HOLD_TURN = """
import sys, time
from edgetune.measure.timing_turn import timing_turn
with timing_turn():
    print("held", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def test_two_edgetune_processes_never_time_at_once(tmp_path, monkeypatch, capsys):
    """A batch waits for another edgetune process's timing turn (a tune's batch on the same
    host), says whose, and is timed once that ends; the turn is free again after the batch."""
    monkeypatch.setenv("EDGETUNE_TIMING_LOCK", str(tmp_path / "turn.lock"))
    other = subprocess.Popen(
        [sys.executable, "-c", HOLD_TURN, "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline().strip() == "held"
        board = load_board("host")
        runner = FreeCoresRunner(board.hardware.cores, 60, board.measure.evaluator())
        start = time.monotonic()
        results = [f.result() for f in runner.run([candidate(matmul_func(), tmp_path / "c.so")])]
        waited = time.monotonic() - start
    finally:
        other.kill()
        other.wait()
    assert waited >= 2.5, waited  # the other's turn ended first
    assert not results[0].error_msg and float(results[0].run_secs[0]) > 0
    err = capsys.readouterr().err
    assert f"waiting for edgetune pid {other.pid} to finish timing on this host" in err
    with timing_turn(), timing_turn():  # released after the batch; nested: no self-wait
        pass


def test_ctrl_c_while_waiting_for_the_turn_stops_the_tune_at_once(tmp_path):
    """The first Ctrl-C of a tune waiting for another process's timing turn ends the wait: the
    batch is not timed, nothing is recorded, exit 130 (not after the other's turn)."""
    from edgetune.paths import REPO_DIR

    env = {**os.environ, "PYTHONPATH": str(REPO_DIR),
           "EDGETUNE_TIMING_LOCK": str(tmp_path / "turn.lock")}  # fmt: skip
    other = subprocess.Popen([sys.executable, "-c", HOLD_TURN, "300"], env=env,
                             stdout=subprocess.PIPE, text=True)  # fmt: skip
    recs = tmp_path / "recs"
    tune = [sys.executable, "-m", "edgetune", "tune", "tiny_fp32", "--trials", "8",
            "--records", str(recs), "--no-library"]  # fmt: skip
    try:
        assert other.stdout.readline().strip() == "held"
        proc = subprocess.Popen(tune, env=env, stderr=subprocess.PIPE, text=True)
        said = ""
        while "waiting for edgetune pid" not in said:
            said += proc.stderr.readline()
            assert proc.poll() is None, said
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, said + err
        assert time.monotonic() - start < 30 and other.poll() is None  # the turn is still held
        assert "0 measured trials are kept" in err
    finally:
        other.kill()
        other.wait()


def test_a_lock_file_we_may_only_read_still_makes_us_wait(tmp_path, monkeypatch):
    """Another user's lock file (0644; fs.protected_regular refuses O_CREAT on it): it was
    skipped without a word and both timed at once. Opened read-only, its lock still holds."""
    import fcntl

    from edgetune.measure import timing_turn as turn

    path = tmp_path / "turn.lock"
    monkeypatch.setenv("EDGETUNE_TIMING_LOCK", str(path))
    other = subprocess.Popen([sys.executable, "-c", HOLD_TURN, "30"], stdout=subprocess.PIPE,
                             text=True)  # fmt: skip
    real_open = os.open

    def as_another_user(file, flags, *args):  # root opens anything: refuse as for a user
        if str(file) == str(path) and flags & (os.O_RDWR | os.O_CREAT):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, flags, *args)

    try:
        assert other.stdout.readline().strip() == "held"
        monkeypatch.setattr(turn.os, "open", as_another_user)
        fd = turn._open(path)
        assert fd is not None
        with pytest.raises(BlockingIOError):  # the other process's turn holds
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(fd)
    finally:
        other.kill()
        other.wait()


def test_a_lock_that_cannot_be_opened_is_said_once_and_the_lock_ignores_tmpdir(
    tmp_path, monkeypatch, capsys
):
    from edgetune.measure import timing_turn as turn

    monkeypatch.setenv("TMPDIR", str(tmp_path))  # pam_tmpdir: one per user, not machine-wide
    monkeypatch.setattr("tempfile.tempdir", None)
    monkeypatch.delenv("EDGETUNE_TIMING_LOCK", raising=False)
    assert turn.lock_path() == turn.Path("/tmp") / turn.LOCK_NAME
    monkeypatch.setenv("EDGETUNE_TIMING_LOCK", str(tmp_path / "missing" / "turn.lock"))
    monkeypatch.setattr(turn, "_unguarded_said", False)
    for _ in range(2):
        with timing_turn():
            pass
    err = capsys.readouterr().err
    assert err.count("warning: cannot open the host timing lock") == 1, err
    assert "No such file or directory" in err
