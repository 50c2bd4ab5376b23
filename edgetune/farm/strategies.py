"""Farm strategies: bring boards up, check their health, recover them, take them out of the pool.

A board's rpc servers are supervised by process group (host) or remote pgid (SSH). A server
that fails is restarted; after MAX_RESTARTS failures in a row it is taken out of the pool with
the reason, which `edgetune farm status` shows. Boards with a serial console and a power command
are checked on the console (kernel panic, no prompt) and power-cycled, then SSH is awaited.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..errors import BoardError, last_line
from . import deadline, health, qemu, session, state
from .drivers import process, rpc_server, tracker
from .drivers.power import power_cycle
from .drivers.serial_console import SerialConsole
from .drivers.ssh import SSHDriver, SSHError
from .resources import FarmSpec, farm_spec, up_hint

if TYPE_CHECKING:
    from ..board import Board

MAX_RESTARTS = 3
REGISTER_TIMEOUT_S = {"qemu": 240.0, "local": 60.0, "ssh": 90.0, "external": 10.0}
HEALTH_TIMEOUT_S = {"qemu": 180.0, "local": 30.0, "ssh": 60.0, "external": 60.0}
REREGISTER_S = 15.0  # servers still running find a restarted tracker (TVM retries every 5 s)
Printer = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def ssh_driver(spec: FarmSpec, accept_new_host_key: bool = False) -> SSHDriver | None:
    return SSHDriver(spec.board, spec.ssh, accept_new_host_key) if spec.ssh else None


def ensure_tracker(spec: FarmSpec, say: Printer = _quiet) -> bool:
    """Start the board's tracker on this machine unless one answers already (True: started)."""
    host, port = spec.tracker_host, spec.tracker_port
    if tracker.reachable(host, port):
        return False
    old = state.tracker(host, port)
    if old and process.group_alive(old.pgid):
        process.kill_group(old.pgid)
    if problem := tracker.bind_problem(host, port):
        raise BoardError(
            f"board '{spec.board}': cannot start the tracker: {problem}; free the port, or "
            "give the board another tracker address"
        )
    log = state.farm_dir() / "logs" / f"tracker-{host}_{port}.log"
    try:
        pgid = tracker.start(host, port, log)
    except tracker.TrackerUnreachable as err:
        raise BoardError(f"board '{spec.board}': cannot start the tracker: {err}") from None
    state.save(state.TrackerRecord(host, port, pgid, str(log)))
    say(f"tracker: started on {host}:{port}")
    return True


def _record(spec: FarmSpec, index: int) -> state.ServerRecord:
    for rec in state.servers(spec.board):
        if rec.index == index:
            return rec
    launch = spec.server.launch
    port = spec.server.port + index if spec.server.port else rpc_server.free_port()
    return state.ServerRecord(spec.board, index, spec.key, launch, spec.server.host, port)


def start_server(board: Board, spec: FarmSpec, rec: state.ServerRecord, ssh=None) -> None:
    """(Re)start one server and wait until the tracker lists it."""
    rpc_server.stop(rec, ssh)
    try:
        rpc_server.start(spec, rec, board.hardware.cores, ssh)
        rec.status, rec.reason = "up", ""
        state.save(rec)  # its process group, for `farm down` even if it never registers
        rpc_server.wait_registered(spec, rec, REGISTER_TIMEOUT_S[rec.launch], ssh)
    except BoardError as err:
        rec.status, rec.reason = "down", str(err)
        state.save(rec)
        raise


def bring_up(
    board: Board, say: Printer = _quiet, accept_new_host_key: bool = False
) -> list[state.ServerRecord]:
    """Start the board's tracker and servers (keeping those already up), then health-check."""
    spec = farm_spec(board)
    if board.connection.kind == "ssh":
        with ssh_driver(spec, accept_new_host_key) as ssh:
            ssh.run([spec.ssh.python, "-c", "import tvm"])
        say(f"{board.name}: reachable over SSH ({spec.ssh.where}); timed over SSH, no rpc server")
        return []
    started = ensure_tracker(spec, say)
    if spec.server.launch == "external":
        say(f"{board.name}: servers are started outside edgetune; checking the tracker only")
        return check(board)
    ssh = ssh_driver(spec, accept_new_host_key) if spec.server.launch == "ssh" else None
    try:
        if ssh:
            ssh.connect()
        registered = _registered(spec, ssh, after_tracker_start=started)
        for i in range(spec.server.count):
            rec = _record(spec, i)
            if rec.port in registered and rpc_server.alive(rec, ssh):
                say(f"{rec.name}: already up on port {rec.port}")
            else:
                if rec.launch == "qemu":
                    qemu.prepare(printer=say)
                say(f"{rec.name}: starting rpc server ({rec.launch}) on port {rec.port}")
                rec.restarts = 0
                start_server(board, spec, rec, ssh)
    finally:
        if ssh:
            ssh.close()
    return check(board)


def _registered(spec: FarmSpec, ssh, after_tracker_start: bool) -> set[int]:
    """The ports registered under the board's key; with a tracker just started, once the
    servers still running have registered with it again (within REREGISTER_S: TVM's servers
    retry their tracker every few seconds), so that live servers are not started anew."""
    host, port = spec.tracker_host, spec.tracker_port
    running = {r.port for r in state.servers(spec.board) if r.status == "up"
               and rpc_server.alive(r, ssh)} if after_tracker_start else set()  # fmt: skip
    deadline = time.monotonic() + REREGISTER_S
    while not running <= (ports := tracker.registered_ports(host, port, spec.key)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    return ports


def check(board: Board) -> list[state.ServerRecord]:
    """Health-check every registered server of the board; failing ones are taken out."""
    spec = farm_spec(board)
    records = {r.port: r for r in state.servers(board.name)}
    results = health_check(board, spec)
    for port, verdict in results.items():
        rec = records.get(port)
        if rec is None:
            continue
        rec.health = verdict or "ok"
        state.save(rec)
        if verdict:
            take_out(rec, verdict)
    for rec in records.values():
        if rec.status == "up" and rec.port not in results:
            rec.health = "not registered with the tracker"
            state.save(rec)
    return state.servers(board.name)


def health_check(board: Board, spec: FarmSpec | None = None) -> dict[int, str]:
    """Run the health kernel on every free server under the board's key: port -> verdict."""
    spec = spec or farm_spec(board)
    lib = str(health.kernel_library(board))
    free = tracker.registered_ports(spec.tracker_host, spec.tracker_port, spec.key)
    timeout = HEALTH_TIMEOUT_S[spec.server.launch]
    workers = [deadline.DeadlineWorker() for _ in free]
    try:
        with ThreadPoolExecutor(max(1, len(workers))) as pool:  # TVM imported before the
            list(pool.map(lambda w: _ready(w, timeout), workers))  # leases: they last seconds
        leases = []
        for _ in free:  # hold one lease per server so that each server is checked once
            try:
                leases.append(tracker.lease(spec.tracker_host, spec.tracker_port, spec.key, 10.0))
            except TimeoutError:
                break
        with ThreadPoolExecutor(max(1, len(leases))) as pool:
            return dict(pool.map(lambda lease, w: _health(lease, w, lib, timeout), leases, workers))
    finally:
        for worker in workers:
            worker.close()


def _ready(worker: deadline.DeadlineWorker, timeout: float) -> None:
    """`worker` with TVM imported (a failure is the health check's to report)."""
    with contextlib.suppress(Exception):
        worker.call(session.ready, timeout=timeout)


def _health(lease: tracker.Lease, worker: deadline.DeadlineWorker, lib: str, timeout: float):
    """(port, verdict) of the health kernel on the leased server, run in `worker`."""
    try:
        out = worker.call(
            session.check_health,
            lease.host,
            lease.port,
            lease.matchkey,
            lib,
            health.inputs(),
            timeout=timeout,
        )
    except TimeoutError:
        return lease.port, f"health kernel gave no answer within {timeout:.0f} s"
    except Exception as err:  # noqa: BLE001 - any failure is the verdict
        return lease.port, f"health kernel failed: {last_line(err)}"
    return lease.port, health.verdict(out)


def take_out(rec: state.ServerRecord, reason: str) -> None:
    """Stop a server and keep it out of the pool with the reason."""
    ssh = None
    if rec.launch == "ssh":
        try:
            from ..board import load_board

            spec = farm_spec(load_board(rec.board))
            ssh = ssh_driver(spec).connect()
        except BoardError:
            ssh = None
    try:
        rpc_server.stop(rec, ssh)
    except SSHError:
        pass
    finally:
        if ssh:
            ssh.close()
    rec.status, rec.reason = "out", reason
    state.save(rec)


def restart(board: Board, rec: state.ServerRecord, reason: str, say: Printer = _quiet) -> bool:
    """Restart a failed server; a start that fails (the server exits or never registers)
    counts as a failed restart too, and after MAX_RESTARTS in a row it is taken out of the pool
    with the last failure's reason. True if back."""
    spec = farm_spec(board)
    while True:
        rec.restarts += 1
        if rec.restarts > MAX_RESTARTS:
            take_out(rec, f"{reason} (after {MAX_RESTARTS} restarts)")
            say(f"{rec.name}: taken out of the pool: {rec.reason}")
            return False
        ssh = ssh_driver(spec) if rec.launch == "ssh" else None
        try:
            if ssh:
                try:
                    ssh.connect()
                except SSHError as err:
                    if not recover_board(board, spec, str(err), say):
                        take_out(rec, str(err))
                        return False
                    ssh.connect()
            say(f"{rec.name}: restarting rpc server ({reason})")
            start_server(board, spec, rec, ssh)
            return True
        except BoardError as err:  # the new server failed to start: the next try says why
            reason = str(err)
        finally:
            if ssh:
                ssh.close()


def recover_board(board: Board, spec: FarmSpec, reason: str, say: Printer = _quiet) -> bool:
    """Look at the serial console; power-cycle a dead board and wait for SSH. True if back."""
    if spec.serial is not None:
        with SerialConsole(board.name, spec.serial) as console:
            console_state = console.state()
        if console_state.alive:
            say(f"{board.name}: console answers; not power-cycling ({reason})")
            return False
        reason = f"console: {console_state.reason}"
    if spec.power is None:
        return False
    say(f"{board.name}: power-cycling ({reason})")
    power_cycle(board.name, spec.power)
    return wait_ssh(spec, spec.power.wait_s)


def wait_ssh(spec: FarmSpec, timeout: float) -> bool:
    deadline_t = time.monotonic() + timeout
    while time.monotonic() < deadline_t:
        try:
            with ssh_driver(spec) as ssh:
                ssh.run(["true"], timeout=10)
            return True
        except SSHError:
            time.sleep(1.0)
    return False


def down(boards: list[str] | None = None, say: Printer = _quiet) -> None:
    """Stop the servers of `boards` (all if None), and their trackers unless servers of other
    boards still use them."""
    from ..board import load_board

    def tracker_of(board: str) -> tuple[str, int] | None:
        with contextlib.suppress(BoardError):
            spec = farm_spec(load_board(board))
            return (spec.tracker_host, spec.tracker_port) if spec.tracker_port else None
        return None

    for rec in state.servers():
        if boards is not None and rec.board not in boards:
            continue
        ssh = None
        if rec.launch == "ssh":
            try:
                ssh = ssh_driver(farm_spec(load_board(rec.board))).connect()
            except BoardError as err:
                say(f"{rec.name}: cannot reach it to stop its server: {err}")
        rpc_server.stop(rec, ssh)
        if ssh:
            ssh.close()
        state.remove(rec)
        say(f"{rec.name}: stopped")
    wanted = None if boards is None else {tracker_of(b) for b in boards}
    needed = {tracker_of(rec.board) for rec in state.servers()}
    for trk in state.trackers():
        where = (trk.host, trk.port)
        if wanted is None or (where in wanted and where not in needed):
            process.kill_group(trk.pgid)
            state.remove(trk)
            say(f"tracker {trk.host}:{trk.port}: stopped")


def free_servers(board: Board, spec: FarmSpec | None = None) -> set[int]:
    """Ports of the rpc servers free under the board's key; BoardError (with what to do) if
    the tracker does not answer or no server is registered."""
    spec = spec or farm_spec(board)
    try:
        ports = tracker.registered_ports(spec.tracker_host, spec.tracker_port, spec.key)
    except tracker.TrackerUnreachable as err:
        raise BoardError(f"board '{board.name}': {err}; {up_hint(spec)}") from None
    if not ports:
        raise BoardError(
            f"board '{board.name}': no rpc server registered under key '{spec.key}' "
            f"at {spec.tracker}; {up_hint(spec, server=True)}"
        )
    return ports


def reachable(board: Board) -> None:
    """BoardError unless the farm board can be used now: a free rpc server under its key, or
    an SSH login (boards measured here need nothing)."""
    if board.connection.kind == "rpc":
        free_servers(board)
    elif board.connection.kind == "ssh":
        with ssh_driver(farm_spec(board)) as ssh:
            ssh.run(["true"])


def status(board: Board, run_health: bool = True) -> dict[str, Any]:
    """What `farm status` shows for one board."""
    spec = farm_spec(board)
    row: dict[str, Any] = {"board": board.name, "kind": board.connection.kind}
    if board.connection.kind == "ssh":
        try:
            with ssh_driver(spec) as ssh:
                ssh.run([spec.ssh.python, "-c", "import tvm"])
            row.update(reachable=True, health="ok", usable=True)
        except BoardError as err:
            row.update(reachable=False, health=str(err), usable=False)
        return row
    row.update(tracker=spec.tracker, key=spec.key)
    try:
        registered = tracker.registered_ports(spec.tracker_host, spec.tracker_port, spec.key)
        row["tracker_up"] = True
    except tracker.TrackerUnreachable as err:
        registered, row["tracker_up"] = set(), False
        row["error"] = str(err)
    checked = health_check(board, spec) if run_health and registered else {}
    servers = []
    for rec in state.servers(board.name):
        if rec.port in checked:
            rec.health = checked[rec.port] or "ok"
            state.save(rec)
        alive = rpc_server.alive(rec) if rec.launch != "ssh" else None
        gone = rec.status == "up" and alive is False  # died since (killed, crashed)
        servers.append(
            {
                "server": rec.name,
                "port": rec.port,
                "launch": rec.launch,
                "process": alive,
                "registered": rec.port in registered,
                "status": "down" if gone else rec.status,
                "health": "" if gone else rec.health,  # the last check's, before it died
                "reason": "its process is gone" if gone else rec.reason,
                "restarts": rec.restarts,
            }
        )
    row["servers"] = servers
    # a server that can take candidates now (external ones: registered is all edgetune sees)
    row["usable"] = any(
        s["registered"] and s["status"] == "up" and s["health"] in ("ok", "") for s in servers
    ) or (spec.server.launch == "external" and bool(registered))
    return row
