"""SSH boards against a real OpenSSH server on loopback (own host key, one authorized user key):
the SSH runner, `edgetune deploy`, and the SSH faults (wrong/unknown host key, unreachable
host, dropped connection). The board's work folder has a space and a `$` in its name, so every
remote command must be quoted right."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from farm_support import (
    STATEFUL,
    SSHServer,
    candidate,
    check_stateful_stream,
    env_vars,
    matmul_func,
    spin_func,
    write_board,
)

from edgetune import stop
from edgetune.board import load_board
from edgetune.cli.main import main
from edgetune.errors import BoardError
from edgetune.farm import strategies
from edgetune.farm.drivers.rpc_server import free_port
from edgetune.farm.drivers.ssh import SSHDriver
from edgetune.farm.resources import farm_spec
from edgetune.frontend import load_model
from edgetune.frontend.tflite_import import random_inputs
from edgetune.measure.farm_runners import FarmRPCRunner, SSHRunner
from edgetune.paths import shipped_model

BOARD_TEXT = """
name = "{name}"
description = "this machine reached over SSH (test board)"
rule_set = "host"
toolchain = "host"
[target]
kind = "llvm"
mcpu = "native"
[hardware]
cores = 1
[connection]
kind = "ssh"
[measure]
run_timeout_s = {run_timeout}
number = 2
repeat = 2
min_repeat_ms = 5
"""


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    root = tmp_path_factory.mktemp("sshd")
    server = SSHServer(root).start()
    workdir = root / "board dir $HOME"

    def board(name, run_timeout=30, known_hosts=None):
        text = BOARD_TEXT.format(name=name, run_timeout=run_timeout)
        write_board(root / "boards", name, text + server.table(workdir, known_hosts))
        return load_board(name)

    with env_vars(EDGETUNE_BOARDS=str(root / "boards")):
        yield server, board, root
    server.stop()


def test_ssh_runner_times_candidates_and_kills_a_hang(sshd, tmp_path):
    _, board, root = sshd
    runner = SSHRunner(board("sshb", run_timeout=3))
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    spin = candidate(spin_func(), tmp_path / "spin.so")
    results = [f.result() for f in runner.run([mm, spin, mm])]
    assert results[0].error_msg is None and results[2].error_msg is None
    assert all(0 < float(s) < 0.1 for r in (results[0], results[2]) for s in r.run_secs)
    assert results[1].run_secs is None
    assert "board 'sshb': no result within 3 s" in results[1].error_msg
    (folder,) = (root / "board dir $HOME").glob(f"runner-*-{os.getpid()}")  # quoted path
    assert [p.name for p in folder.iterdir()] == ["agent.py"]  # each candidate removed after


def test_a_runner_removes_what_dead_runners_of_this_machine_left(sshd):
    """A dropped connection or a kill leaves `runner-HOST-PID` on the board (its atexit cannot
    reach the board): the next runner of this machine removes those whose PID is gone."""
    import socket
    import subprocess

    _, board, root = sshd
    workdir = root / "board dir $HOME"
    dead = subprocess.Popen(["true"])  # a PID that no longer runs
    dead.wait()
    host = socket.gethostname()
    left = [f"runner-{host}-{dead.pid}", f"runner-{host}-1", f"runner-elsewhere-{dead.pid}"]
    for name in left:
        (workdir / name).mkdir(parents=True, exist_ok=True)
    SSHRunner(board("sshleft"))
    assert not (workdir / left[0]).exists()
    assert (workdir / left[1]).is_dir() and (workdir / left[2]).is_dir()  # alive, not ours


def test_deploy_matches_litert(sshd, tmp_path, capsys):
    from edgetune.oracle.litert import LiteRTModel

    _, board, root = sshd
    board("sshdeploy")
    model_path = shipped_model("tiny_fp32.tflite")
    so = tmp_path / "tiny.so"
    assert main(["build", str(model_path), "--board", "sshdeploy", "-o", str(so)]) == 0
    (x,) = random_inputs(load_model(model_path).info, seed=3)
    np.save(tmp_path / "x.npy", x)
    capsys.readouterr()
    code = main(["deploy", str(so), "--board", "sshdeploy", "--input", str(tmp_path / "x.npy"),
                 "--output", str(tmp_path / "y.npy"), "--repeat", "3", "--json"])  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["via"] == "ssh" and report["latency"]["repeat"] == 3
    ours = np.load(tmp_path / "y.npy")
    (ref,) = LiteRTModel(model_path, threads=1)([x])
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
    assert not list((root / "board dir $HOME").glob("deploy-*"))  # its folder removed after


def test_stateful_model_carries_its_states_through_the_agent(sshd, tmp_path, cli):
    """A streaming int8 model (6 resource variables) run and deployed for 4 steps on the SSH
    board: the agent carries the states from step to step, equal to LiteRT's sequence."""
    _, board, root = sshd
    board("sshstate")
    so = tmp_path / "kws.so"
    assert cli("build", STATEFUL, "--board", "sshstate", "-o", so).code == 0
    assert check_stateful_stream(cli, "run", so, "sshstate", tmp_path)["board"] == "sshstate"
    assert check_stateful_stream(cli, "deploy", so, "sshstate", tmp_path)["via"] == "ssh"


def test_profile_runs_on_the_board_through_its_agent(sshd, capsys):
    """Every kernel timed inside the model on the SSH board (the agent's instrument there)."""
    from edgetune.tasks import for_model
    from edgetune.tvm_api import tirx

    _, board, root = sshd
    b = board("sshprof")
    model_path = shipped_model("tiny_fp32.tflite")
    capsys.readouterr()
    assert main(["profile", str(model_path), "--board", "sshprof", "--runs", "5", "--json"]) == 0
    prof = json.loads(capsys.readouterr().out)
    fused = for_model(load_model(model_path), b).fused
    kernels = {gv.name_hint for gv, f in fused.functions.items() if isinstance(f, tirx.PrimFunc)}
    assert {r["kernel"] for r in prof["kernels"]} == kernels
    assert prof["board"] == "sshprof" and prof["threads"] == 1 and not prof["emulated"]
    assert prof["total_ms"] > 0 and all(r["ms"] > 0 and r["calls"] >= 1 for r in prof["kernels"])


def test_wrong_host_key_is_refused(sshd, tmp_path, capsys):
    server, board, _ = sshd
    other = tmp_path / "other"
    os.system(f"ssh-keygen -q -t ed25519 -N '' -f {other}")
    kind, key = other.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{server.port} {kind} {key}\n")
    b = board("sshwrongkey", known_hosts=known)
    with pytest.raises(BoardError, match="board 'sshwrongkey': SSH to .*host key mismatch"):
        SSHDriver(b.name, farm_spec(b).ssh, accept_new_host_key=True).connect()
    assert main(["farm", "up", "--board", "sshwrongkey"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "board 'sshwrongkey'" in err[0] and "host key mismatch" in err[0]


def test_unknown_host_key_needs_the_flag(sshd, tmp_path):
    server, board, _ = sshd
    known = tmp_path / "known_hosts"
    known.write_text("")
    b = board("sshnewkey", known_hosts=known)
    spec = farm_spec(b).ssh
    with pytest.raises(BoardError, match="unknown host key .*--accept-new-host-key"):
        SSHDriver(b.name, spec).connect()
    with SSHDriver(b.name, spec, accept_new_host_key=True) as ssh:
        assert ssh.run(["echo", "a b;$HOME"])[1] == "a b;$HOME\n"  # quoted, not expanded
    host_key = server.host_key.with_suffix(".pub").read_text().split()[1]
    assert host_key in known.read_text()  # recorded: next time no flag is needed
    SSHDriver(b.name, spec).connect().close()


def test_unreachable_host_names_the_board(sshd):
    server, board, root = sshd
    board("sshgone")
    path = root / "boards" / "sshgone.toml"
    path.write_text(path.read_text().replace(f"port = {server.port}", f"port = {free_port()}"))
    b = load_board("sshgone")
    t0 = time.monotonic()
    with pytest.raises(BoardError, match=r"board 'sshgone': SSH to .*: unreachable \(.*refused"):
        SSHDriver(b.name, farm_spec(b).ssh).connect()
    assert time.monotonic() - t0 < 10


def test_dropped_connection_is_an_error_result_then_reconnects(sshd, tmp_path):
    server, board, _ = sshd
    runner = SSHRunner(board("sshdrop", run_timeout=30))
    spin = candidate(spin_func(), tmp_path / "spin.so")
    mm = candidate(matmul_func(), tmp_path / "mm.so")
    future = runner.run([spin])[0]
    time.sleep(3)  # the spinning candidate is running over SSH: cut the connection
    procs = [psutil.Process(server.proc.pid), *psutil.Process(server.proc.pid).children(True)]
    sessions = [p for p in procs[1:] if "sshd" in p.name()]
    assert sessions
    for p in sessions:
        p.kill()
    result = future.result()
    assert result.run_secs is None
    assert "board 'sshdrop': SSH to" in result.error_msg
    assert "dropped" in result.error_msg or "failed" in result.error_msg
    (again,) = [f.result() for f in runner.run([mm])]
    assert again.error_msg is None


def test_farm_up_starts_the_rpc_server_over_ssh(sshd, tmp_path, capsys):
    """An rpc board whose server `farm up` starts on the board over SSH, stopped by pgid."""
    server, _, root = sshd
    text = BOARD_TEXT.format(name="sshrpc", run_timeout=10).replace(
        'kind = "ssh"',
        f'kind = "rpc"\ntracker = "127.0.0.1:{free_port()}"\nkey = "sshrpc"\n'
        f'[connection.server]\nlaunch = "ssh"\nport = {free_port()}',
    )
    write_board(root / "boards", "sshrpc", text + server.table(root / "rpc work"))
    with env_vars(EDGETUNE_FARM_DIR=str(tmp_path / "state")):
        try:
            assert main(["farm", "up", "--board", "sshrpc"]) == 0
            assert "sshrpc#0" in capsys.readouterr().out
            (rec,) = strategies.state.servers("sshrpc")
            assert rec.launch == "ssh" and rec.health == "ok" and psutil.pid_exists(rec.pgid)
            runner = FarmRPCRunner(load_board("sshrpc"))
            (res,) = [f.result() for f in runner.run([candidate(matmul_func(), tmp_path / "m.so")])]
            assert res.error_msg is None
        finally:
            strategies.down()
    assert _gone(rec.pgid)  # the remote process group is gone


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """The process ended (a zombie waiting for init to reap it counts as ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_a_board_lost_mid_tune_stops_the_tune_and_keeps_what_was_measured(tmp_path, capsys):
    """The board's sshd and its sessions die after the first records: `tune` stops with one
    line naming the board (exit 2), instead of failing every candidate left against a dead
    board and ending "successfully" with the budget spent; a rerun resumes."""
    server = SSHServer(tmp_path / "sshd").start()
    text = BOARD_TEXT.format(name="sshlost", run_timeout=30)
    write_board(tmp_path / "boards", "sshlost", text + server.table(tmp_path / "work"))
    recs = tmp_path / "recs"
    records = recs / "database_tuning_record.json"

    def cut_when_measured() -> None:
        while not (records.is_file() and records.read_text().count("\n") >= 2):
            time.sleep(0.1)
        for p in [psutil.Process(server.proc.pid), *psutil.Process(server.proc.pid).children(True)]:
            p.kill()
        server.stop()

    cutter = threading.Thread(target=cut_when_measured, daemon=True)
    with env_vars(EDGETUNE_BOARDS=str(tmp_path / "boards")):
        cutter.start()
        code = main(["tune", "tiny_fp32", "--board", "sshlost", "--trials", "30", "--per-round",
                     "2", "--records", str(recs), "--no-library", "--final-top", "0"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 2, err
    kept = records.read_text().splitlines()
    assert err.startswith("edgetune: error: board 'sshlost': SSH to ")
    assert f"tuning stopped: the {len(kept)} trials measured before are kept in {recs}" in err
    assert 2 <= len(kept) < 30 and all(json.loads(line) for line in kept)
    assert stop.carried() is None  # handed on once, not left for a later run


def test_a_board_python_that_cannot_run_the_agent_is_refused_before_tuning(sshd, tmp_path):
    _, board, root = sshd
    board("sshnopy")
    path = root / "boards" / "sshnopy.toml"
    path.write_text(re.sub(r'(?m)^python = .*$', 'python = "/nonexistent/python3"',
                           path.read_text()))  # fmt: skip
    # the command quoted by its start (the agent's lines run to hundreds of characters)
    with pytest.raises(BoardError, match=r"`/nonexistent/python3 .*` failed: .*python3: No such"):
        SSHRunner(load_board("sshnopy"))


def test_deploys_to_one_board_at_once_keep_their_own_files(sshd, tmp_path):
    """Two `deploy`s of different models to one SSH board at the same time each get their own
    outputs (they shared the board's deploy folder: one read the other's inputs)."""
    _, board, root = sshd
    board("sshtwo")
    procs = {}
    for name in ("tiny_fp32", "tiny_int8"):
        so = tmp_path / f"{name}.so"
        assert main(["build", name, "--board", "sshtwo", "-o", str(so)]) == 0
        procs[name] = so
    runs = {name: _deploy(so, "sshtwo", "--repeat", "20", "--json") for name, so in procs.items()}
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert json.loads(out)["model"] == name
    assert not list((root / "board dir $HOME").glob("deploy-*"))


def test_an_interrupted_deploy_stops_the_agent_on_the_board(sshd, tmp_path):
    _, board, root = sshd
    board("sshint")
    so = tmp_path / "tiny.so"
    assert main(["build", "tiny_fp32", "--board", "sshint", "-o", str(so)]) == 0
    proc = _deploy(so, "sshint", "--repeat", "100000000")
    agents = []
    deadline = time.monotonic() + 60
    while not agents and time.monotonic() < deadline:
        agents = [p for p in psutil.process_iter(["cmdline"]) if _is_agent_run(p.info["cmdline"])]
        time.sleep(0.2)
    assert agents, "the agent never started"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert all(_gone(p.pid) for p in agents)
    assert not list((root / "board dir $HOME").glob("deploy-*"))


def _deploy(so: Path, board: str, *extra: str) -> subprocess.Popen:
    """`edgetune deploy` in a process of its own (stdout and stderr piped, text)."""
    argv = [sys.executable, "-m", "edgetune", "deploy", str(so), "--board", board, *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _is_agent_run(cmdline: list[str] | None) -> bool:
    return bool(cmdline) and any(c.endswith("agent.py") for c in cmdline) and "run" in cmdline


def test_ssh_faults_are_one_line(sshd, tmp_path, capfd):
    """A key file that is not there is named as such (it read "unreachable"); a server that
    closes the connection before its banner gives edgetune's line only, not paramiko's
    tracebacks."""
    server, board, root = sshd
    b = board("sshkey")
    spec = farm_spec(b).ssh
    with pytest.raises(BoardError, match=f"key_file {tmp_path}/gone not found"):
        SSHDriver(b.name, dataclasses.replace(spec, key_file=str(tmp_path / "gone"))).connect()
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=lambda: listener.accept()[0].close(), daemon=True).start()
    mute = dataclasses.replace(spec, port=listener.getsockname()[1])
    capfd.readouterr()
    with pytest.raises(BoardError, match="board 'sshkey': SSH to "):
        SSHDriver(b.name, mute).connect()
    time.sleep(0.5)  # paramiko's thread logs after the connect returns
    assert "Traceback" not in capfd.readouterr().err
    listener.close()
