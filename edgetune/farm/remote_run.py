"""Running a built model on a farm board (what `edgetune run --board B` and `deploy` use).

rpc boards: a tracker session (upload, load, Relax VM over RPC, time_evaluator), in a worker
process with a deadline. ssh boards: push the library and inputs, run the board-side agent,
pull the outputs.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import BoardError, last_line
from ..runtime import states as states_module
from ..runtime.result import RunResult, run_steps_on
from ..runtime.timing import Latency
from . import deadline, session, state
from .drivers import rpc_server, tracker
from .drivers.ssh import SSHDriver
from .resources import FarmSpec, farm_spec, up_hint
from .strategies import free_servers

if TYPE_CHECKING:
    from ..board import Board

LEASE_TIMEOUT_S = 60.0
ALARM_EXIT = 128 + 14  # the agent died of its SIGALRM deadline
AGENT = Path(__file__).with_name("agent.py")  # the board-side script (runs with the board's TVM)
MODEL_STATES = Path(states_module.__file__)  # what the agent imports to carry a model's states


def run_remote(
    board: Board,
    artifact_path: str | Path,
    steps: list[list[np.ndarray]],
    states: list[np.ndarray],
    repeat: int,
    accept_new_host_key: bool = False,
    via: str | None = None,
) -> tuple[list[list[np.ndarray]], Latency]:
    """The outputs of the artifact on `board` for each step's inputs, run in sequence (the
    model's states carried from one to the next, from `states`), and the latency there of the
    last step (`repeat` timed runs).

    `via` is "rpc" (a tracker session) or "ssh" (push and run with the board-side agent);
    by default the board's connection kind decides.
    """
    spec = farm_spec(board)
    via = via or board.connection.kind
    if via == "ssh":
        if spec.ssh is None:
            raise BoardError(f"board '{board.name}' has no [connection.ssh] to deploy over")
        return _run_ssh(
            board, spec, Path(artifact_path), steps, states, repeat, accept_new_host_key
        )
    return _run_rpc(board, spec, Path(artifact_path), steps, states, repeat)


def deploy(
    board: Board,
    artifact: str | Path,
    input_paths: list[str] | None,
    repeat: int,
    accept_new_host_key: bool = False,
    steps: int | None = None,
) -> RunResult:
    """`edgetune deploy`: push an artifact built for `board` to it (over SSH when the board
    has SSH, else through its tracker), run it there on the inputs of `steps` invocations in
    sequence, and report."""
    via = "ssh" if farm_spec(board).ssh is not None else "rpc"

    def run(board: Board, path: Path, inputs: list[list[np.ndarray]], states, repeat: int):
        return run_remote(board, path, inputs, states, repeat, accept_new_host_key, via=via)

    details = {"via": via}
    return run_steps_on(board, artifact, input_paths, steps, repeat, run, details)


def _run_rpc(board, spec: FarmSpec, path: Path, steps, states, repeat):
    timeout = board.measure.run_timeout_s * max(1, repeat + len(steps)) + 60.0
    up = [r for r in state.servers(board.name) if r.status == "up"]
    if up and all(rpc_server.process_gone(r) for r in up):
        names = ", ".join(r.name for r in up)
        raise BoardError(
            f"board '{board.name}': its rpc server ({names}) is down, its process gone; "
            f"{up_hint(spec)}"
        )
    free_servers(board, spec)  # none registered under its key: said now, not after the wait
    worker = deadline.DeadlineWorker()
    try:
        return _run_leased(board, spec, worker, path, steps, states, repeat, timeout)
    finally:
        worker.close()


def _run_leased(board, spec: FarmSpec, worker, path: Path, steps, states, repeat, timeout):
    """The run in `worker`, TVM imported there before the lease: a server gives a leased match
    key up within seconds, and a busy host's import outlasted it."""
    try:
        worker.call(session.ready, timeout=timeout)
    except Exception as err:  # noqa: BLE001 - the worker could not start
        raise BoardError(f"board '{board.name}': measuring process did not start: {err}") from None
    try:
        lease = tracker.lease(spec.tracker_host, spec.tracker_port, spec.key, LEASE_TIMEOUT_S)
    except tracker.TrackerUnreachable as err:
        raise BoardError(f"board '{board.name}': {err}; {up_hint(spec)}") from None
    except TimeoutError as err:
        raise BoardError(
            f"board '{board.name}': {err} (every server busy: another tune or client holds "
            f"them, or they stopped; `edgetune farm status --board {spec.board_argument}`)"
        ) from None
    try:
        outputs, samples = worker.call(
            session.run_model,
            lease.host,
            lease.port,
            lease.matchkey,
            timeout,
            str(path.resolve()),
            steps,
            states,
            repeat,
            timeout=timeout,
        )
    except TimeoutError:
        raise BoardError(f"board '{board.name}': no result within {timeout:.0f} s") from None
    except Exception as err:  # noqa: BLE001 - the remote error, on one line
        last = last_line(err, type(err).__name__)
        raise BoardError(f"board '{board.name}': running {path.name} failed: {last}") from None
    return outputs, Latency.from_seconds(samples)


def profile_remote(
    board: Board,
    artifact_path: str | Path,
    inputs: list[np.ndarray],
    runs: int,
    accept_new_host_key: bool = False,
) -> dict:
    """Every kernel's time inside the model as it runs on `board` (the agent's `profile` mode
    over SSH: the instrument needs Python beside the model, which a bare rpc server lacks)."""
    spec = farm_spec(board)
    if spec.ssh is None:
        raise BoardError(
            f"board '{board.name}' has no [connection.ssh]: profile runs edgetune's agent on the "
            f"board over SSH (`edgetune run --board {board.argument}` gives the whole-model "
            "latency)"
        )
    timeout = board.measure.run_timeout_s * max(1, 2 * runs + 1) + 60.0
    report, _ = _agent_over_ssh(
        board, spec, Path(artifact_path), inputs, ["profile", str(runs)], timeout,
        accept_new_host_key, fetch_outputs=False,
    )  # fmt: skip
    return report


def _run_ssh(board, spec: FarmSpec, path: Path, steps, states, repeat, accept_new_host_key):
    timeout = board.measure.run_timeout_s * max(1, repeat + len(steps)) + 60.0
    inputs = [x for step in steps for x in step] + states
    mode = ["run", str(repeat), str(len(steps)), str(len(states))]
    report, outputs = _agent_over_ssh(
        board, spec, path, inputs, mode, timeout, accept_new_host_key, fetch_outputs=True
    )
    per_step = len(outputs) // len(steps)
    by_step = [outputs[i * per_step : (i + 1) * per_step] for i in range(len(steps))]
    return by_step, Latency.from_seconds(report["latencies"])


def own_folder(ssh: SSHDriver, workdir: str, kind: str) -> str:
    """A folder of this process's own under the board's workdir (`kind`-HOST-PID): two
    commands on one board, from one machine or several, never share files. The folders an
    earlier process of this machine left there (a dropped connection, a kill: its PID no longer
    runs here) are removed first."""
    prefix = f"{kind}-{socket.gethostname()}-"
    _, listed, _ = ssh.run(["ls", "-1", "--", workdir], check=False)
    for name in listed.splitlines():
        pid = name[len(prefix) :] if name.startswith(prefix) else ""
        if pid.isdigit() and not _running_here(int(pid)):
            ssh.remove_folder(f"{workdir}/{name}")
    return f"{workdir}/{prefix}{os.getpid()}"


def _running_here(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def agent_failed(
    board: str, code: int, out: str, err: str, timeout_s: float, what: str
) -> str | None:
    """Why a run of the board-side agent failed, from its exit status (its deadline, else its
    last line), None if it did not."""
    if code == ALARM_EXIT:
        return f"board '{board}': no result within {timeout_s:.0f} s"
    if code != 0:
        return f"board '{board}': {what} failed: {last_line(err or out, f'exit code {code}')}"
    return None


def check_agent(ssh: SSHDriver, python: str, folder: str) -> str:
    """Upload the agent into `folder` and check that the board's python runs it (TVM runtime
    and numpy importable): SSHError naming what is missing. Returns the agent's path there."""
    agent = f"{folder}/agent.py"
    ssh.upload(AGENT, agent)
    ssh.run([python, agent, "check"], timeout=120)
    return agent


def _agent_over_ssh(
    board, spec: FarmSpec, path: Path, inputs, mode: list[str], timeout: float,
    accept_new_host_key: bool, fetch_outputs: bool,
) -> tuple[dict, list[np.ndarray]]:  # fmt: skip
    """Push the library, the inputs and the agent into a folder of this run's own; run the
    agent's `mode` (MODE ARG: the library, inputs and, for `run`, the outputs file go between
    them) under a deadline; its JSON line and, if asked, the outputs. The folder is removed
    afterwards, and the agent stopped on the board when this process is interrupted."""
    with (
        SSHDriver(board.name, spec.ssh, accept_new_host_key) as ssh,
        tempfile.TemporaryDirectory() as tmp,
    ):
        work = own_folder(ssh, spec.ssh.workdir, "deploy")
        try:
            np.savez(f"{tmp}/inputs.npz", *inputs)
            agent = check_agent(ssh, spec.ssh.python, work)
            ssh.upload(MODEL_STATES, f"{work}/model_states.py")
            ssh.upload(path, f"{work}/{path.name}")
            ssh.upload(f"{tmp}/inputs.npz", f"{work}/inputs.npz")
            files = [f"{work}/{path.name}", f"{work}/inputs.npz"]
            files += [f"{work}/outputs.npz"] if fetch_outputs else []
            argv = [spec.ssh.python, agent, mode[0], *files, *mode[1:]]
            env = f"TVM_NUM_THREADS={board.hardware.cores} EDGETUNE_DEADLINE_S={timeout:.0f}"
            pid = shlex.quote(f"{work}/agent.pid")
            # in the background so that its pid is known (to stop it) and its death by a
            # signal is the shell's exit status 128+N
            line = f"{env} {shlex.join(argv)} & echo $! > {pid}; wait $!; exit $?"
            code, out, err = ssh.run_shell(line, timeout=timeout + 30, check=False)
            if failure := agent_failed(
                board.name, code, out, err, timeout, f"{mode[0]} {path.name}"
            ):
                raise BoardError(failure)
            outputs = []
            if fetch_outputs:
                ssh.download(f"{work}/outputs.npz", f"{tmp}/outputs.npz")
                with np.load(f"{tmp}/outputs.npz") as data:
                    outputs = [data[f"arr_{i}"] for i in range(len(data.files))]
        except BaseException:
            ssh.stop_process(f"{work}/agent.pid")  # still running there if we were interrupted
            raise
        finally:
            ssh.remove_folder(work)
    return json.loads(out.strip().splitlines()[-1]), outputs
