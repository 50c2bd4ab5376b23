"""TVM's RPC tracker (tvm.exec.rpc_tracker): starting it and talking its protocol with deadlines.

TVM's TrackerSession retries a refused connection for a minute and waits for a free server
forever; the farm needs both bounded, so it speaks the same messages (tvm.rpc.base) on a socket
with a timeout.
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import process


class TrackerUnreachable(ConnectionError):
    """The tracker does not answer at host:port."""


@dataclass(frozen=True)
class Lease:
    """A server the tracker handed out for one session."""

    host: str
    port: int
    matchkey: str


def tracker_command(host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tvm.exec.rpc_tracker",
        "--host",
        host,
        "--port",
        str(port),
        "--port-end",
        str(port + 1),
        "--silent",
    ]


def start(host: str, port: int, log: Path, wait_s: float = 30.0) -> int:
    """Start a tracker in its own process group and wait until it answers. Returns the pgid."""
    pgid = process.launch(tracker_command(host, port), log)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not process.group_alive(pgid):
            tail = process.launch_log_tail(log)
            raise TrackerUnreachable(f"tracker on {host}:{port} exited: {tail}")
        if reachable(host, port):
            return pgid
        time.sleep(0.2)
    process.kill_group(pgid)
    raise TrackerUnreachable(f"tracker on {host}:{port} did not answer within {wait_s:.0f} s")


def bind_problem(host: str, port: int) -> str | None:
    """Why a tracker could not listen on host:port now (None: it could)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"{host}:{port} is taken by a program that is not an RPC tracker"
            return f"cannot listen on {host}:{port} here ({err.strerror or err})"
    return None


def _open(host: str, port: int, timeout: float) -> socket.socket:
    from tvm.rpc import base

    try:
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.sendall(struct.pack("<i", base.RPC_TRACKER_MAGIC))
        (magic,) = struct.unpack("<i", base.recvall(sock, 4))
    except OSError as err:
        raise TrackerUnreachable(f"no RPC tracker at {host}:{port} ({err})") from None
    if magic != base.RPC_TRACKER_MAGIC:
        sock.close()
        raise TrackerUnreachable(f"{host}:{port} is not an RPC tracker")
    return sock


def reachable(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        _open(host, port, timeout).close()
    except TrackerUnreachable:
        return False
    return True


def _ask(
    host: str, port: int, message: list, timeout: float, failing: str, waiting: str = ""
) -> Any:
    """Send one request to the tracker and return its SUCCESS value.

    `failing` completes "tracker at HOST:PORT ..." when the connection breaks; with `waiting`,
    running out of `timeout` is a TimeoutError with that text instead (a lease may wait).
    """
    from tvm.rpc import base

    sock = _open(host, port, min(timeout, 5.0))
    sock.settimeout(timeout)
    try:
        base.sendjson(sock, message)
        code, value = base.recvjson(sock)
    except OSError as err:
        if waiting and isinstance(err, TimeoutError):
            raise TimeoutError(waiting) from None
        raise TrackerUnreachable(f"tracker at {host}:{port} {failing} ({err})") from None
    finally:
        sock.close()
    if code != base.TrackerCode.SUCCESS:
        raise TrackerUnreachable(f"tracker at {host}:{port} answered {code}")
    return value


def summary(host: str, port: int, timeout: float = 5.0) -> dict[str, Any]:
    """The tracker's summary: {"queue_info": {key: {free, pending}}, "server_info": [...]}."""
    from tvm.rpc import base

    return _ask(host, port, [base.TrackerCode.SUMMARY], timeout, "stopped answering")


def registered_ports(host: str, port: int, key: str) -> set[int]:
    """Ports of the servers registered under `key` and free right now."""
    info = summary(host, port)
    return {
        int(s["addr"][1])
        for s in info.get("server_info", [])
        if s.get("key") == f"server:{key}" and s.get("addr")
    }


def lease(host: str, port: int, key: str, timeout: float, priority: int = 1) -> Lease:
    """Ask the tracker for a free server under `key`; TimeoutError if none within `timeout`."""
    from tvm.rpc import base

    url, server_port, matchkey = _ask(
        host,
        port,
        [base.TrackerCode.REQUEST, key, "", priority],
        timeout,
        "dropped the request",
        waiting=f"no free server under key '{key}' within {timeout:.0f} s",
    )
    return Lease(url, int(server_port), matchkey)
