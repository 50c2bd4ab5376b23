"""The farm against real TVM RPC: a tracker and two x86 rpc servers under one key, started by
the test. Faults: a hanging candidate, a server killed mid-tune, a crashed session, a tracker
restart, an unreachable tracker."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import threading
import time
from pathlib import Path

import psutil
import pytest
from farm_support import (
    candidate,
    env_vars,
    host_board_text,
    matmul_func,
    spin_func,
    write_board,
)

from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.errors import BoardError
from edgetune.farm import state, strategies
from edgetune.farm.drivers import process, rpc_server, tracker
from edgetune.farm.drivers.rpc_server import free_port
from edgetune.measure.farm_runners import FarmRPCRunner

BOARD = "hostfarm"
FAILED = 1e10  # MetaSchedule's run_secs marker for a failed measurement
GENERIC_X86 = {"kind": "llvm", "num-cores": 1}


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    root = tmp_path_factory.mktemp("farm")
    write_board(
        root / "boards",
        BOARD,
        host_board_text(BOARD, free_port(), count=2, run_timeout=3, overhead=5),
    )
    with env_vars(EDGETUNE_BOARDS=str(root / "boards"), EDGETUNE_FARM_DIR=str(root / "state")):
        board = load_board(BOARD)
        try:
            records = strategies.bring_up(board)
            assert [r.health for r in records] == ["ok", "ok"]
            yield board, root
        finally:
            strategies.down()


def _ports(board):
    spec_host, spec_port = board.connection.tracker_host_port
    return tracker.registered_ports(spec_host, spec_port, board.connection.key)


def _wait_ports(board, n, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_ports(board)) == n:
            return
        time.sleep(0.5)
    raise AssertionError(f"{n} servers not registered: {_ports(board)}")


def _session_child(rec) -> psutil.Process | None:
    """The forked process serving a session right now on server `rec`, if any."""
    try:
        kids = psutil.Process(rec.pgid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    return kids[-1] if len(kids) >= 2 else None


def test_status_shows_both_servers_healthy(farm, capsys):
    board, _ = farm
    assert main(["farm", "status", "--board", BOARD, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["tracker_up"] is True
    assert [(s["registered"], s["health"], s["status"]) for s in row["servers"]] == [
        (True, "ok", "up"),
        (True, "ok", "up"),
    ]


def test_boards_under_one_key_measure_in_parallel(farm, tmp_path):
    board, _ = farm
    runner = FarmRPCRunner(board)
    assert runner.parallel == 2
    inp = candidate(matmul_func(), tmp_path / "mm.so")
    results = [f.result() for f in runner.run([inp] * 8)]
    assert all(r.error_msg is None for r in results)
    assert all(0 < float(s) < 0.1 for r in results for s in r.run_secs)
    assert set(runner.served) == _ports(board)  # both servers took candidates


def test_a_lease_its_server_gave_up_is_replaced_and_the_server_kept(farm, tmp_path):
    """A server keeps a leased match key a few seconds: a second tune on a busy host connected
    later (its measuring process still importing TVM), every candidate failed with "cannot find
    server that matches key" and each healthy server was restarted. A stale lease is replaced."""
    board, _ = farm
    spec_host, spec_port = board.connection.tracker_host_port
    stale = tracker.lease(spec_host, spec_port, board.connection.key, timeout=30)
    time.sleep(8)  # the server gives the match key up (TVM: 4 s, then a 2 s check)
    before = {r.port: r.pgid for r in state.servers(BOARD)}
    runner = FarmRPCRunner(board)
    leases = [stale]
    real_lease = runner._lease
    runner._lease = lambda: leases.pop() if leases else real_lease()
    (result,) = [f.result() for f in runner.run([candidate(matmul_func(), tmp_path / "mm.so")])]
    assert result.error_msg is None and not leases, result.error_msg
    assert {r.port: r.pgid for r in state.servers(BOARD)} == before  # no server restarted
    assert sum(runner.served.values()) == 1 and not runner.lost
    _wait_ports(board, 2)


def test_hanging_candidate_times_out_and_server_is_restarted(farm, tmp_path):
    board, _ = farm
    before = {r.port: r.pgid for r in state.servers(BOARD)}
    runner = FarmRPCRunner(board)
    spin = candidate(spin_func(), tmp_path / "spin.so")
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    t0 = time.monotonic()
    results = [f.result() for f in runner.run([spin, mm, mm, mm])]
    elapsed = time.monotonic() - t0
    assert results[0].run_secs is None and "no result within 8 s" in results[0].error_msg
    assert "server restarted" in results[0].error_msg
    assert all(r.error_msg is None for r in results[1:])  # the other board kept measuring
    assert elapsed < 60
    after = {r.port: r.pgid for r in state.servers(BOARD)}
    restarted = [p for p in before if before[p] != after[p]]
    assert len(restarted) == 1
    assert not process.group_alive(before[restarted[0]])  # the spinning session is gone too
    _wait_ports(board, 2)
    assert set(strategies.health_check(board).values()) == {""}


def test_server_killed_mid_tune_loses_no_record(farm, tmp_path):
    """Kill a server's process group while it serves a candidate, in the middle of tuning."""
    from tvm.s_tir import meta_schedule as ms

    from edgetune.measure import make_builder
    from edgetune.search import tune_tir

    board, _ = farm
    runner = FarmRPCRunner(board)
    victims: list[int] = []
    stop = threading.Event()

    def killer():
        while not stop.is_set() and not victims:
            for rec in state.servers(BOARD):
                if _session_child(rec) is not None:
                    process.kill_group(rec.pgid, grace_s=0)
                    victims.append(rec.port)
                    return
            time.sleep(0.005)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    trials = 6
    (tmp_path / "db").mkdir()
    database = ms.database.JSONDatabase(work_dir=str(tmp_path / "db"))
    tune_tir(
        matmul_func(32),
        GENERIC_X86,  # no VNNI tensorization rules: a cheap search space
        tmp_path / "work",
        trials,
        per_round=6,
        builder=make_builder(board),
        runner=runner,
        database=database,
    )
    stop.set()
    thread.join()
    assert victims, "no session was caught in flight"
    records = database.get_all_tuning_records()
    assert len(records) == trials  # every measured candidate has its record
    secs = [[float(s) for s in r.run_secs] for r in records]
    failed = [s for s in secs if s == [FAILED]]
    valid = [s for s in secs if s != [FAILED]]
    assert len(failed) >= 1 and any(str(victims[0]) in msg for msg in runner.lost)
    assert valid and all(0 < x < 0.1 for s in valid for x in s)  # no slow/fast garbage
    _wait_ports(board, 2)  # the killed server is back


def test_server_dead_between_batches_is_restarted(farm, tmp_path):
    board, _ = farm
    runner = FarmRPCRunner(board)
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    assert all(f.result().error_msg is None for f in runner.run([mm] * 2))
    victim = state.servers(BOARD)[0]
    process.kill_group(victim.pgid, grace_s=0)
    results = [f.result() for f in runner.run([mm] * 4)]
    assert all(r.error_msg is None for r in results)
    (after,) = [r for r in state.servers(BOARD) if r.index == victim.index]
    assert after.pgid != victim.pgid and process.group_alive(after.pgid)
    _wait_ports(board, 2)


def test_crashed_session_server_is_restarted(farm, tmp_path):
    """TVM's server never accepts again after a session dies: edgetune restarts it."""
    board, _ = farm
    runner = FarmRPCRunner(board)
    mm = candidate(matmul_func(256), tmp_path / "mm.so")
    crashed: list[int] = []

    def crasher():
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not crashed:
            for rec in state.servers(BOARD):
                child = _session_child(rec)
                if child is not None:
                    child.kill()
                    crashed.append(rec.port)
                    return
            time.sleep(0.002)

    thread = threading.Thread(target=crasher, daemon=True)
    thread.start()
    results = [f.result() for f in runner.run([mm] * 6)]
    thread.join()
    assert crashed
    lost = [r for r in results if r.error_msg]
    assert lost and all(r.run_secs is None for r in lost)
    assert any("server restarted" in r.error_msg for r in lost)
    _wait_ports(board, 2)
    more = [f.result() for f in runner.run([mm] * 4)]
    assert all(r.error_msg is None for r in more)


def test_two_threads_losing_one_server_restart_it_once(farm):
    """Both measuring threads lose a session on the same server at once: one restart, and the
    record names the live server (a second, racing restart lost the port and left the record
    naming a dead process, or out of the pool with pgid 0; a test killing that "group" killed
    its own process group, and CI with it)."""
    board, _ = farm
    runner = FarmRPCRunner(board)
    rec = state.servers(BOARD)[0]
    lease = tracker.Lease("127.0.0.1", rec.port, board.connection.key)
    start = threading.Barrier(2)

    def lose(_):
        start.wait()
        return runner._recover(lease, "session lost")

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lose, range(2))) == [" (server restarted)"] * 2
    (after,) = [r for r in state.servers(BOARD) if r.index == rec.index]
    assert after.status == "up" and after.pgid != rec.pgid
    assert process.group_alive(after.pgid) and not process.group_alive(rec.pgid)
    assert after.restarts == rec.restarts + 1
    _wait_ports(board, 2)
    with pytest.raises(ValueError, match="refusing to signal process group 0"):
        process.kill_group(0)


def test_tracker_restart_is_survived(farm, tmp_path, capsys):
    """Candidates wait for a restarted tracker, and the wait is said once (it was silent for
    up to a minute)."""
    board, _ = farm
    runner = FarmRPCRunner(board)
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    (trk,) = state.trackers()
    process.kill_group(trk.pgid)
    assert not tracker.reachable(trk.host, trk.port)
    futures = runner.run([mm] * 4)  # waits for the tracker to come back

    time.sleep(2)
    strategies.ensure_tracker(strategies.farm_spec(board))
    results = [f.result() for f in futures]
    assert all(r.error_msg is None for r in results)
    _wait_ports(board, 2)
    said = capsys.readouterr().err
    assert said.count("waiting up to 60 s for it to return") == 1, said


def test_farm_up_after_a_tracker_died_keeps_the_servers_still_running(farm):
    """`farm up` started a new tracker and at once asked it which servers were registered:
    none yet, so it killed and started anew every server that was about to register again."""
    board, _ = farm
    _wait_ports(board, 2)
    before = {r.port: r.pgid for r in state.servers(BOARD)}
    (trk,) = state.trackers()
    process.kill_group(trk.pgid)
    said: list[str] = []
    records = strategies.bring_up(board, said.append)
    assert {r.port: r.pgid for r in records} == before, said
    assert [r.health for r in records] == ["ok", "ok"]
    assert sum("already up" in line for line in said) == 2, said


def test_a_held_board_is_said_and_once_lost_the_batch_ends(farm, tmp_path, monkeypatch, capsys):
    """Every server held by another client: the wait is said once; when it runs out the board
    is lost and the batch's other candidates are not measured (they each waited their full
    deadline, and one was measured after "tuning stopped", once the holder let go)."""
    from edgetune import stop
    from edgetune.errors import BoardLost
    from edgetune.measure import farm_runners

    board, _ = farm
    runner = FarmRPCRunner(board)

    def held(*_args, timeout, **_kwargs):
        time.sleep(timeout)
        raise TimeoutError("no free server")

    monkeypatch.setattr(farm_runners.tracker, "lease", held)
    monkeypatch.setattr(farm_runners, "LEASE_SLICE_S", 0.5)
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    started = time.monotonic()
    outcomes = []
    for future in runner.run([mm] * 6):
        try:
            outcomes.append(future.result().error_msg)
        except (BoardLost, RuntimeError) as err:  # through TVM's FFI: a RuntimeError
            outcomes.append(str(err))
    assert time.monotonic() - started < runner.deadline_s + 5
    lost = [o for o in outcomes if f"within {runner.deadline_s:.0f} s" in o]
    assert 1 <= len(lost) <= runner.parallel and "another tune or client holds them" in lost[0]
    assert outcomes[len(lost) :] == ["not measured: tuning stopped, the board was lost"] * (
        6 - len(lost)
    )
    assert capsys.readouterr().err.count("waiting for a free server under key") == 1
    while stop.carried():  # the lost board, as the tune would have raised it
        pass


def test_run_on_a_board_whose_server_died_says_so_at_once(farm, tmp_path, capsys):
    """The tracker up, the board's one server killed: `run`/`deploy` said "no free server
    within 60 s" after a minute; `farm status` showed its health "ok" next to "down"."""
    from edgetune.farm.remote_run import run_remote

    _, root = farm
    write_board(root / "boards", "onefarm", host_board_text("onefarm", free_port(), count=1))
    assert main(["farm", "up", "--board", "onefarm"]) == 0
    try:
        (rec,) = state.servers("onefarm")
        process.kill_group(rec.pgid)
        started = time.monotonic()
        with pytest.raises(BoardError, match=r"its rpc server \(onefarm#0\) is down, its proc"):
            run_remote(load_board("onefarm"), tmp_path / "m.so", [[]], [], 1)
        assert time.monotonic() - started < 5
        capsys.readouterr()
        main(["farm", "status", "--board", "onefarm", "--json", "--no-health"])
        (row,) = json.loads(capsys.readouterr().out)
        (server,) = row["servers"]
        assert (server["status"], server["health"]) == ("down", "")
        # a server started over SSH (its pgid on the board) is not judged from here
        on_board = state.ServerRecord("b", 0, "b", "ssh", "10.0.0.2", 9090, pgid=rec.pgid)
        assert rpc_server.process_gone(rec) and not rpc_server.process_gone(on_board)
    finally:
        strategies.down(["onefarm"])


def test_run_with_a_key_no_server_registers_says_so_at_once(farm, tmp_path):
    """A board file on the farm's tracker under a key no server registers (a typo): `run`
    and `deploy` waited 60 s and blamed busy servers; `tune` said it in seconds."""
    from edgetune.farm.remote_run import run_remote

    board, root = farm
    spec = strategies.farm_spec(board)
    write_board(root / "boards", "typokey", host_board_text("typokey", spec.tracker_port))
    started = time.monotonic()
    with pytest.raises(BoardError, match=r"no rpc server registered under key 'typokey'"):
        run_remote(load_board("typokey"), tmp_path / "m.so", [[]], [], 1)
    assert time.monotonic() - started < 5


def test_a_restart_whose_server_fails_to_start_is_tried_again_up_to_the_limit(farm, monkeypatch):
    """A restarted server that dies while starting (killed again, a crash) counts as a failed
    restart, not as the end: the board was taken out after one restart (docs: 3), with the
    previous server's last log line as the reason."""
    board, _ = farm
    rec = state.ServerRecord(BOARD, 7, BOARD, "local", "127.0.0.1", free_port())
    starts = []

    def start_server(board, spec, rec, ssh=None):
        starts.append(rec.restarts)
        if len(starts) < 3:
            raise BoardError(f"board '{BOARD}': rpc server exited: start {len(starts)} failed")

    monkeypatch.setattr(strategies, "start_server", start_server)
    said = []
    try:
        assert strategies.restart(board, rec, "session crashed", said.append)
        assert starts == [1, 2, 3] and rec.status == "up"
        exited = f"board '{BOARD}': rpc server exited: start"
        assert said == [f"{rec.name}: restarting rpc server (session crashed)",
                        f"{rec.name}: restarting rpc server ({exited} 1 failed)",
                        f"{rec.name}: restarting rpc server ({exited} 2 failed)"]  # fmt: skip
        rec.restarts, starts[:] = 0, []
        monkeypatch.setattr(strategies, "MAX_RESTARTS", 2)
        assert not strategies.restart(board, rec, "session crashed", said.append)
        assert starts == [1, 2] and rec.status == "out"
        assert rec.reason == (f"board '{BOARD}': rpc server exited: start 2 failed "
                              "(after 2 restarts)")  # fmt: skip
    finally:
        state.remove(rec)


def test_unreachable_tracker_names_the_board(farm, tmp_path, capsys):
    board, root = farm
    write_board(root / "boards", "nofarm", host_board_text("nofarm", free_port()))
    with pytest.raises(BoardError, match="board 'nofarm': no RPC tracker at 127.0.0.1:.*farm up"):
        FarmRPCRunner(load_board("nofarm"))
    model = Path(__file__).parents[1] / "edgetune/models/tiny_fp32.tflite"
    code = main(["tune", str(model), "--board", "nofarm", "--trials", "2",
                 "--records", str(tmp_path / "recs")])  # fmt: skip
    assert code != 0
    assert "board 'nofarm'" in capsys.readouterr().err
    assert not (tmp_path / "recs").exists()  # a refused tune claims no folder for the board
    # the host's records folder named by mistake: said first (starting the farm would not help)
    host_recs = str(tmp_path / "host")
    assert main(["tune", str(model), "--trials", "0", "--records", host_recs]) == 0
    capsys.readouterr()
    code = main(["tune", str(model), "--board", "nofarm", "--trials", "2", "--records", host_recs])
    err = capsys.readouterr().err
    assert code == 2 and "belongs to board 'host'" in err and "RPC tracker" not in err, err


def test_failing_board_is_taken_out_with_the_reason(farm, capsys):
    """An x86 server registered for an aarch64 board fails the health kernel."""
    _, root = farm
    text = host_board_text("wrongarch", free_port(), count=1)
    text = text.replace('toolchain = "host"', 'toolchain = "aarch64-linux-gnu"').replace(
        'mcpu = "native"', 'mtriple = "aarch64-linux-gnu"\nmcpu = "cortex-a53"'
    )
    write_board(root / "boards", "wrongarch", text)
    assert main(["farm", "up", "--board", "wrongarch"]) == 1
    assert "wrongarch#0" in capsys.readouterr().out
    assert (
        main(["farm", "status", "--board", "wrongarch", "--json", "--no-health"]) == 1
    )  # no server can take candidates
    (row,) = json.loads(capsys.readouterr().out)
    (server,) = row["servers"]
    assert server["status"] == "out" and server["registered"] is False
    assert server["reason"].startswith("health kernel failed")
    with pytest.raises(BoardError, match="board 'wrongarch': no rpc server registered"):
        FarmRPCRunner(load_board("wrongarch"))
    strategies.down(["wrongarch"])


def test_busy_ports_are_named_and_a_server_that_never_came_up_is_not_shown_up(farm, capsys):
    """A tracker port taken by another program is named as such (it read "AttributeError:
    'Tracker' object has no attribute 'host'"); a server whose port is taken is shown down with
    the reason, and one killed later is shown down too (both read "up")."""
    _, root = farm
    taken = socket.create_server(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    write_board(root / "boards", "busytracker", host_board_text("busytracker", port, count=1))
    assert main(["farm", "up", "--board", "busytracker"]) == 2
    err = capsys.readouterr().err
    assert f"cannot start the tracker: 127.0.0.1:{port} is taken by a program that is not" in err
    text = host_board_text("busyserver", free_port(), count=1)
    text = text.replace('launch = "local"', f'launch = "local"\nport = {port}')
    write_board(root / "boards", "busyserver", text)
    assert main(["farm", "up", "--board", "busyserver"]) == 2
    assert main(["farm", "status", "--board", "busyserver", "--json", "--no-health"]) == 1
    (server,) = json.loads(capsys.readouterr().out)[0]["servers"]
    assert server["status"] == "down" and "cannot bind" in server["reason"], server
    taken.close()
    assert main(["farm", "up", "--board", "busyserver"]) == 0
    (rec,) = state.servers("busyserver")
    process.kill_group(rec.pgid)
    capsys.readouterr()
    assert main(["farm", "status", "--board", "busyserver", "--json", "--no-health"]) == 1
    (server,) = json.loads(capsys.readouterr().out)[0]["servers"]
    assert (server["status"], server["reason"]) == ("down", "its process is gone")
    trackers = {(t.host, t.port) for t in state.trackers()}
    strategies.down(["busyserver"])  # its tracker too: no other board's server uses it
    assert trackers - {(t.host, t.port) for t in state.trackers()} == {
        load_board("busyserver").connection.tracker_host_port
    }


def test_a_board_whose_servers_start_elsewhere_is_not_up_until_one_registers(farm, capsys):
    """launch = "external": `farm up` starts the tracker only; with no server registered it
    fails (it passed) and says how to start one, which `farm up` cannot."""
    _, root = farm
    text = host_board_text("elsewhere", free_port(), count=1).replace('launch = "local"\n', "")
    write_board(root / "boards", "elsewhere", text)
    assert main(["farm", "up", "--board", "elsewhere"]) == 1
    err = capsys.readouterr().err
    assert "no rpc server registered under key 'elsewhere'" in err
    assert "start its rpc server on the board" in err and "--key elsewhere" in err
    assert (
        "the tracker stays up for them to register; `edgetune farm down --board elsewhere`" in err
    )
    strategies.down(["elsewhere"])
