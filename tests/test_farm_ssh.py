"""SSH boards against a real OpenSSH server on loopback (own host key, one authorized user key):
the SSH runner, `edgetune deploy`, and the SSH faults (wrong/unknown host key, unreachable
host, dropped connection). The board's work folder has a space and a `$` in its name, so every
remote command must be quoted right."""

from __future__ import annotations

import json
import os
import time

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
    assert (root / "board dir $HOME" / "runner" / "candidate.so").is_file()  # quoted path


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
    assert (root / "board dir $HOME" / "deploy" / "tiny.so").is_file()


def test_stateful_model_carries_its_states_through_the_agent(sshd, tmp_path, cli):
    """A streaming int8 model (6 resource variables) run and deployed for 4 steps on the SSH
    board: the agent carries the states from step to step, equal to LiteRT's sequence."""
    _, board, root = sshd
    board("sshstate")
    so = tmp_path / "kws.so"
    assert cli("build", STATEFUL, "--board", "sshstate", "-o", so).code == 0
    assert check_stateful_stream(cli, "run", so, "sshstate", tmp_path)["board"] == "sshstate"
    assert check_stateful_stream(cli, "deploy", so, "sshstate", tmp_path)["via"] == "ssh"
    assert (root / "board dir $HOME" / "deploy" / "model_states.py").is_file()


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
    assert (root / "board dir $HOME" / "deploy" / "agent.py").is_file()


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
