"""MetaSchedule runners for farm boards, registered for connection kinds "rpc" and "ssh".

FarmRPCRunner keeps MetaSchedule's RPCRunner semantics (tracker session per candidate, upload,
random arguments, time_evaluator; the same helper functions are reused) and adds what the
stock runner lacks: a bounded wait for a free server, a hard deadline per candidate (the session
runs in a worker process that is killed), and supervision. A candidate whose session is lost
or that overruns becomes an error result -- never a time -- and the server that ran it is
restarted while the other boards under the key keep measuring. Boards under one key are used in
parallel (one measuring thread per registered server).

SSHRunner times candidates on boards where no rpc server can run: upload the candidate, run the
board-side agent (which enforces the run deadline itself), parse its JSON.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import json
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from tvm.ir.utils import derived_object

from .. import stop
from ..errors import BoardError, BoardLost
from ..farm import session, state, strategies
from ..farm.deadline import DeadlineWorker
from ..farm.drivers import rpc_server, tracker
from ..farm.drivers.ssh import SSHDriver, SSHError
from ..farm.remote_run import agent_failed, check_agent, own_folder, run_remote
from ..farm.resources import farm_spec
from ..runtime.local import set_thread_count
from ..runtime.timing import DEFAULT_CALLS
from ..tvm_api import ms
from .backend import Backend, register_backend

if TYPE_CHECKING:
    from ..board import Board

TRACKER_WAIT_S = 60.0  # how long a tracker may be away (restarted) before candidates fail
LEASE_SLICE_S = 10.0  # a wait for a free server is asked in slices: a lost board ends it
STALE_LEASES = 3  # leases a candidate may find given up by their server before it fails


@derived_object
class FarmFuture(ms.runner.PyRunnerFuture):
    """A candidate being measured by a runner thread."""

    def __init__(self, future: concurrent.futures.Future) -> None:
        super().__init__()
        self.future = future

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> ms.runner.RunnerResult:
        try:
            return self.future.result()
        except concurrent.futures.CancelledError:  # the board was lost before its turn
            return _error("not measured: tuning stopped, the board was lost")


def _say(message: str) -> None:
    print(f"edgetune: {message}", file=sys.stderr, flush=True)


def _error(message: str) -> ms.runner.RunnerResult:
    return ms.runner.RunnerResult(run_secs=None, error_msg=message)


class _Workers(threading.local):
    worker: DeadlineWorker | None = None


@derived_object
class FarmRPCRunner(ms.runner.PyRunner):
    """Times candidates on the servers registered under the board's tracker key."""

    def __init__(self, board: Board, say=None) -> None:
        super().__init__()
        self.board, self.spec = board, farm_spec(board)
        self.say = say or _say  # server restarts, pool changes: said as they happen
        m = board.measure
        self.evaluator = (m.number, m.repeat, m.min_repeat_ms, False)
        self.deadline_s = m.run_timeout_s + self.spec.server.session_overhead_s
        self.parallel = len(strategies.free_servers(board, self.spec))
        self.pool = concurrent.futures.ThreadPoolExecutor(self.parallel)
        self._workers = _Workers()
        self._lock = threading.Lock()
        self._restart_locks: dict[int, threading.Lock] = {}  # one restart per port at a time
        self.lost: list[str] = []  # what went wrong, candidate by candidate, for the report
        self.served: Counter[int] = Counter()  # candidates measured per server port
        self.stopped: BaseException | None = None  # the board was lost: no candidate more
        self.waiting_said = False  # "waiting for a free server" said for the current wait

    def run(self, runner_inputs) -> list[FarmFuture]:
        if self.stopped is not None:  # lost in an earlier batch: its pool takes no more
            raise self.stopped
        return [FarmFuture(self.pool.submit(self._measure, inp)) for inp in runner_inputs]

    def _lease(self) -> tracker.Lease:
        """A free server within the candidate deadline, waiting out a tracker restart for up to
        TRACKER_WAIT_S; asked in slices, so that a board another thread found lost ends the
        wait, and a long wait is said once."""
        spec = self.spec
        start = time.monotonic()
        give_up, deadline = start + TRACKER_WAIT_S, start + self.deadline_s
        while True:
            if self.stopped is not None:
                raise self.stopped
            live = [r for r in state.servers(spec.board) if r.status == "up"]
            if not live and state.servers(spec.board):
                reasons = "; ".join(sorted({r.reason for r in state.servers(spec.board)}))
                raise BoardError(f"board '{spec.board}': no server left in the pool ({reasons})")
            left = deadline - time.monotonic()
            try:
                lease = tracker.lease(spec.tracker_host, spec.tracker_port, spec.key,
                                      timeout=max(0.1, min(LEASE_SLICE_S, left)))  # fmt: skip
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise BoardError(
                        f"board '{spec.board}': no free server under key '{spec.key}' within "
                        f"{self.deadline_s:.0f} s (another tune or client holds them: "
                        f"`edgetune farm status --board {spec.board_argument}`)"
                    ) from None
                self._say_waiting(
                    f"waiting for a free server under key '{spec.key}' at {spec.tracker} (all "
                    f"busy: another tune or client holds them; up to {self.deadline_s:.0f} s)"
                )
                continue
            except tracker.TrackerUnreachable as err:
                if time.monotonic() > give_up:
                    raise BoardError(f"board '{spec.board}': {err}") from None
                self._say_waiting(f"{err}: waiting up to {TRACKER_WAIT_S:.0f} s for it to return")
                time.sleep(1.0)
                continue
            self.waiting_said = False
            return lease

    def _say_waiting(self, why: str) -> None:
        """Say once per wait why the board takes no candidate now."""
        if not self.waiting_said:
            self.waiting_said = True
            _say(f"board '{self.spec.board}': {why}")

    def _restart_lock(self, port: int) -> threading.Lock:
        with self._lock:
            return self._restart_locks.setdefault(port, threading.Lock())

    def _supervise(self) -> None:
        """Restart servers of this host whose process died between candidates (the tracker
        just stops offering them, and the stock RPCRunner would wait for them forever)."""
        for rec in state.servers(self.spec.board):
            if rec.status != "up" or not rpc_server.process_gone(rec):
                continue
            lock = self._restart_lock(rec.port)
            if not lock.acquire(blocking=False):
                continue  # another thread is restarting it
            try:
                fresh = state.server_on_port(rec.key, rec.host, rec.port)
                if fresh is not None and fresh.status == "up" and rpc_server.process_gone(fresh):
                    strategies.restart(self.board, fresh, "server process died", self.say)
            finally:
                lock.release()

    def _measure(self, inp) -> ms.runner.RunnerResult:
        if self.stopped is not None:
            raise self.stopped
        self._supervise()
        for _ in range(STALE_LEASES):
            worker = self._ready_worker()  # before the lease: its match key expires in seconds
            try:
                lease = self._lease()
            except BoardError as err:  # no server left, or the tracker gone for good
                with self._lock:
                    if self.stopped is None:
                        self.stopped = stop.carry(BoardLost(str(err)))
                        self.pool.shutdown(wait=False, cancel_futures=True)  # the batch's others
                raise self.stopped from None
            costs, err, alive = self._time_on(worker, lease, inp)
            if session.STALE_MATCH_KEY not in err:
                break
            alive = True  # the server gave this lease up, not the session: take another
        where = f"server {lease.host}:{lease.port}"
        if costs is not None:
            with self._lock:
                self.served[lease.port] += 1
            self._succeeded(lease)
            return ms.runner.RunnerResult(run_secs=costs, error_msg=None)
        if not alive:
            err += self._recover(lease, err)
        with self._lock:
            self.lost.append(f"{where}: {err}")
        return _error(f"board '{self.board.name}' {where}: {err}")

    def _ready_worker(self) -> DeadlineWorker | None:
        """This thread's measuring process, TVM imported (None: it could not start)."""
        if self._workers.worker is None:
            self._workers.worker = DeadlineWorker()
        try:
            self._workers.worker.call(session.ready, timeout=self.deadline_s)
        except Exception:  # noqa: BLE001 - said by the call that needed it
            return None
        return self._workers.worker

    def _time_on(self, worker: DeadlineWorker | None, lease: tracker.Lease, inp):
        """(costs, error, session alive) of one candidate on the leased server."""
        if worker is None:
            return None, "measuring process did not start", True
        args_info = [a.as_json() for a in inp.args_info]
        try:
            return worker.call(
                session.measure_candidate,
                lease.host,
                lease.port,
                lease.matchkey,
                self.deadline_s,
                inp.artifact_path,
                inp.device_type,
                args_info,
                self.evaluator,
                timeout=self.deadline_s,
            )
        except TimeoutError:
            return None, f"no result within {self.deadline_s:.0f} s", False
        except Exception as exc:  # noqa: BLE001 - the worker process died
            return None, f"measuring process died ({type(exc).__name__})", False

    def _succeeded(self, lease: tracker.Lease) -> None:
        rec = state.server_on_port(self.spec.key, lease.host, lease.port)
        if rec is not None and rec.restarts:
            rec.restarts = 0
            state.save(rec)

    def _recover(self, lease: tracker.Lease, reason: str) -> str:
        """Restart the server that lost the session (only servers this farm started), unless
        another thread restarted it meanwhile: two restarts of one port race for it, and the
        loser's record would name a dead process."""
        rec = state.server_on_port(self.spec.key, lease.host, lease.port)
        if rec is None or rec.launch == "external":
            return " (server not managed by edgetune: not restarted)"
        with self._restart_lock(rec.port):
            fresh = state.server_on_port(self.spec.key, lease.host, lease.port) or rec
            back = (
                fresh.status == "up"
                if fresh.pgid != rec.pgid
                else strategies.restart(self.board, fresh, reason, self.say)
            )
        return " (server restarted)" if back else f" (server taken out of the pool: {fresh.reason})"


@derived_object
class SSHRunner(ms.runner.PyRunner):
    """Times candidates on an SSH board with the board-side agent (no rpc server needed), in a
    folder of this process's own on the board (two tunes on one board do not mix files)."""

    def __init__(self, board: Board) -> None:
        super().__init__()
        self.board, self.spec = board, farm_spec(board)
        self.ssh = SSHDriver(board.name, self.spec.ssh).connect()
        self.workdir = own_folder(self.ssh, self.spec.ssh.workdir, "runner")
        self.agent = check_agent(self.ssh, self.spec.ssh.python, self.workdir)
        atexit.register(self.ssh.remove_folder, self.workdir)
        self.pool = concurrent.futures.ThreadPoolExecutor(1)  # one board, one candidate at a time
        self.lost: BoardLost | None = None

    def run(self, runner_inputs) -> list[FarmFuture]:
        return [FarmFuture(self.pool.submit(self._measure, inp)) for inp in runner_inputs]

    def _measure(self, inp) -> ms.runner.RunnerResult:
        if self.lost is not None:
            raise self.lost
        m, ssh, folder = self.board.measure, self.ssh, shlex.quote(self.workdir)
        remote_lib = f"{self.workdir}/candidate.so"
        remote_args = f"{self.workdir}/args.json"
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump([a.as_json() for a in inp.args_info], f)
            f.flush()
            try:
                ssh.upload(inp.artifact_path, remote_lib)
                ssh.upload(f.name, remote_args)
                argv = [
                    self.spec.ssh.python, self.agent, "time", remote_lib, remote_args,
                    str(m.number), str(m.repeat), str(m.min_repeat_ms), str(m.run_timeout_s),
                ]  # fmt: skip
                # `exit $code`: the shell reports death by signal as 128+N (sshd would send an
                # exit-signal without a status if the shell exec'd the agent)
                line = (
                    f"TVM_NUM_THREADS={self.board.hardware.cores} {shlex.join(argv)}; code=$?; "
                    f"rm -f {folder}/candidate.so {folder}/args.json; exit $code"
                )
                code, out, err = ssh.run_shell(line, timeout=m.run_timeout_s + 60, check=False)
            except SSHError as exc:
                return self._connection_failed(exc)
        if failure := agent_failed(self.board.name, code, out, err, m.run_timeout_s, "candidate"):
            return _error(failure)
        try:
            costs = json.loads(out.strip().splitlines()[-1])["costs"]
        except (ValueError, KeyError, IndexError):
            return _error(f"board '{self.board.name}': unreadable timing output: {out[-200:]!r}")
        return ms.runner.RunnerResult(run_secs=[float(c) for c in costs], error_msg=None)

    def _connection_failed(self, exc: SSHError) -> ms.runner.RunnerResult:
        """The candidate failed if the board answers a new connection; else the board is lost
        and tuning stops (`stop.carry`) rather than failing every candidate left."""
        self.ssh.close()
        try:
            self.ssh.connect()
        except SSHError as again:
            self.lost = stop.carry(BoardLost(f"{exc}; reconnecting: {again}"))
            raise self.lost from None
        return _error(str(exc))


def _rpc_runner(board: Board) -> FarmRPCRunner:
    set_thread_count(board.hardware.cores)
    return FarmRPCRunner(board)


def _run_on_board(board: Board, path: Path, steps, states, repeat: int | None):
    return run_remote(board, path, steps, states, repeat or DEFAULT_CALLS)


for _kind, _runner in (("rpc", _rpc_runner), ("ssh", SSHRunner)):
    register_backend(
        _kind,
        Backend(runner=_runner, run_artifact=_run_on_board, reachable=strategies.reachable),
    )
