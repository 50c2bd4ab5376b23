"""TVM rpc servers (tvm.exec.rpc_server --tracker --key), started and stopped per process group:
on the host (x86 python, or the emulated board's guest python) or on the board over SSH."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from ...errors import BoardError
from .. import qemu
from ..resources import FarmSpec
from ..state import ServerRecord, farm_dir
from . import process, tracker
from .ssh import SSHDriver


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def server_args(spec: FarmSpec, rec: ServerRecord) -> list[str]:
    return [
        "-m", "tvm.exec.rpc_server", "--host", rec.host, "--port", str(rec.port),
        "--port-end", str(rec.port + 1), "--tracker", spec.tracker, "--key", spec.key,
    ]  # fmt: skip


def start(spec: FarmSpec, rec: ServerRecord, cores: int, ssh: SSHDriver | None = None) -> None:
    """Start the server of `rec` (its pgid and log are filled in)."""
    if rec.launch == "ssh":
        if ssh is None:
            raise BoardError(f"board '{spec.board}': starting its rpc server needs SSH")
        log = f"{spec.ssh.workdir}/rpc_server-{rec.index}.log"
        rec.pgid = ssh.start_detached([spec.ssh.python, *server_args(spec, rec)], log)
        rec.log = f"{spec.ssh.where}:{log}"
        return
    if rec.launch == "qemu":
        python = str(qemu.prepare())
    elif rec.launch == "local":
        python = sys.executable
    else:
        raise BoardError(
            f"board '{spec.board}': servers with launch={rec.launch} are not started by edgetune"
        )
    log = farm_dir() / "logs" / f"{rec.board}-{rec.index}.log"
    env = {**os.environ, "TVM_NUM_THREADS": str(cores)}
    rec.pgid = process.launch([python, *server_args(spec, rec)], log, env)
    rec.log = str(log)


def stop(rec: ServerRecord, ssh: SSHDriver | None = None) -> None:
    if not rec.pgid:
        return
    if rec.launch == "ssh":
        if ssh is not None:
            ssh.kill_group(rec.pgid)
    elif rec.launch in ("local", "qemu"):
        process.kill_group(rec.pgid)
    rec.pgid = 0


def alive(rec: ServerRecord, ssh: SSHDriver | None = None) -> bool:
    if rec.launch == "ssh":
        return ssh is not None and bool(rec.pgid) and ssh.group_alive(rec.pgid)
    if rec.launch in ("local", "qemu"):
        return bool(rec.pgid) and process.group_alive(rec.pgid)
    return True


def process_gone(rec: ServerRecord) -> bool:
    """Whether a server this machine started (local, qemu) is no longer running (killed,
    crashed): the tracker no longer offers it. One started over SSH, or by the user, is not
    checked from here."""
    return rec.launch in ("local", "qemu") and not alive(rec)


def wait_registered(spec: FarmSpec, rec: ServerRecord, timeout: float, ssh=None) -> None:
    """Wait until the tracker lists `rec`'s port under the board's key; BoardError otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if rec.port in tracker.registered_ports(spec.tracker_host, spec.tracker_port, spec.key):
            return
        if rec.launch in ("local", "qemu") and not alive(rec, ssh):
            last = process.launch_log_tail(Path(rec.log))
            raise BoardError(f"board '{spec.board}': rpc server exited: {last}")
        time.sleep(0.5)
    raise BoardError(
        f"board '{spec.board}': rpc server on port {rec.port} did not register with the "
        f"tracker {spec.tracker} within {timeout:.0f} s"
    )
