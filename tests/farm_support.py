"""Real components for the farm tests: host rpc boards, an OpenSSH server on loopback, a pty
serial console that behaves like a board, and small candidate libraries."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from edgetune.farm.drivers.rpc_server import free_port

STATEFUL = Path(__file__).parent / "data" / "microww_alexa.tflite"  # int8, 6 resource variables

HOST_BOARD = """
name = "{name}"
description = "this machine (test farm)"
rule_set = "host"
toolchain = "host"
[target]
kind = "llvm"
mcpu = "native"
[hardware]
cores = 1
[connection]
kind = "rpc"
tracker = "127.0.0.1:{tracker}"
key = "{name}"
[connection.server]
launch = "local"
count = {count}
session_overhead_s = {overhead}
[measure]
build_timeout_s = 600
run_timeout_s = {run_timeout}
number = 2
repeat = 2
min_repeat_ms = 5
"""

SSH_TABLE = """
[connection.ssh]
host = "127.0.0.1"
port = {port}
user = "{user}"
key_file = "{key_file}"
known_hosts = "{known_hosts}"
python = "{python}"
workdir = "{workdir}"
connect_timeout_s = 5
"""


def write_board(dirpath: Path, name: str, text: str) -> Path:
    dirpath.mkdir(parents=True, exist_ok=True)
    path = dirpath / f"{name}.toml"
    path.write_text(text)
    return path


def host_board_text(
    name: str, tracker: int, count: int = 2, run_timeout: float = 5, overhead: float = 10
) -> str:
    return HOST_BOARD.format(
        name=name, tracker=tracker, count=count, run_timeout=run_timeout, overhead=overhead
    )


def local_host_board_text(name: str, **measure: float) -> str:
    """HOST_BOARD without its rpc connection (a board measured in this process's workers), with
    `measure` as its [measure] table."""
    head = HOST_BOARD.split("[connection]")[0].format(name=name)
    return head + "[measure]\n" + "".join(f"{k} = {v}\n" for k, v in measure.items())


@contextmanager
def env_vars(**values: str) -> Iterator[None]:
    """Set environment variables for a block (module fixtures, where monkeypatch is not
    available); the previous values, or their absence, come back afterwards."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class SSHServer:
    """Debian's sshd on 127.0.0.1 with its own host key and one authorized user key."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.host_key = root / "host_ed25519"
        self.user_key = root / "user_ed25519"
        for key in (self.host_key, self.user_key):
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True
            )
        (root / "authorized_keys").write_text(self.user_key.with_suffix(".pub").read_text())
        os.chmod(root / "authorized_keys", 0o600)
        pub = self.host_key.with_suffix(".pub").read_text().split()
        self.known_hosts = root / "known_hosts"
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {pub[0]} {pub[1]}\n")
        self.config = root / "sshd_config"
        self.config.write_text(
            f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"AuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPermitRootLogin prohibit-password\n"
            "Subsystem sftp internal-sftp\nAcceptEnv LANG\n"
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> SSHServer:
        Path("/run/sshd").mkdir(exist_ok=True)
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        with open(self.root / "sshd.log", "ab") as log:
            self.proc = subprocess.Popen(
                [sshd, "-D", "-e", "-f", str(self.config)], stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + 10
        import socket

        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"sshd did not start: {(self.root / 'sshd.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def table(self, workdir: Path, known_hosts: Path | None = None) -> str:
        import getpass

        return SSH_TABLE.format(
            port=self.port,
            user=getpass.getuser(),
            key_file=self.user_key,
            known_hosts=known_hosts or self.known_hosts,
            python=sys.executable,
            workdir=workdir,
        )


class ConsoleEmulator:
    """The other end of a pty: boots, asks for a login, runs a shell, can panic and be
    power-cycled (by creating `power_file`)."""

    BOOT = b"U-Boot 2024.01\r\nStarting kernel ...\r\n[    0.000000] Booting Linux on CPU 0\r\n"

    def __init__(self, root: Path, password: str = "raspberry") -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)  # no echo or CR/LF rewriting before pyserial opens the port
        self.device = os.ttyname(slave)
        self._slave = slave
        self.password = password
        self.power_file = root / "power-cycle"
        self.boots = 0
        self.panicked = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _out(self, data: bytes) -> None:
        os.write(self.master, data)

    def _boot(self) -> None:
        self.boots += 1
        self.panicked = False
        self._out(self.BOOT + b"\r\nboard login: ")
        self.state = "login"

    def power_cycle(self) -> None:
        """Reboot the board as its power command would."""
        self.power_file.touch()

    def panic(self) -> None:
        self.panicked = True
        self._out(b"\r\n[  42.000000] Kernel panic - not syncing: Attempted to kill init!\r\n")

    def _loop(self) -> None:
        import select

        self._boot()
        buf = b""
        while not self._stop.is_set():
            if self.power_file.exists():
                self.power_file.unlink()
                time.sleep(0.2)
                self._boot()
                buf = b""
            ready, _, _ = select.select([self.master], [], [], 0.05)
            if not ready:
                continue
            try:
                buf += os.read(self.master, 1024)
            except OSError:
                return
            while b"\r" in buf:
                line, buf = buf.split(b"\r", 1)
                buf = buf.lstrip(b"\n")
                if not self.panicked:
                    self._line(line.decode())

    def _line(self, line: str) -> None:
        self._out(line.encode() + b"\r\n")  # echo, like a terminal
        if self.state == "login":
            if line:
                self.user = line
                self.state = "password"
                self._out(b"Password: ")
            else:
                self._out(b"board login: ")
        elif self.state == "password":
            if line == self.password and self.user == "root":
                self.state = "shell"
                self._out(b"# ")
            else:
                self.state = "login"
                self._out(b"\r\nLogin incorrect\r\nboard login: ")
        else:
            if line.strip():
                res = subprocess.run(["sh", "-c", line], capture_output=True)
                self._out((res.stdout + res.stderr).replace(b"\n", b"\r\n"))
            self._out(b"# ")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        os.close(self.master)
        os.close(self._slave)


def matmul_func(n: int = 32):
    from tvm import te

    a = te.placeholder((n, n), "float32", name="a")
    b = te.placeholder((n, n), "float32", name="b")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="c")
    return te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")


def spin_func():
    """A kernel that runs for hours: a dependent float chain over 2^40 steps."""
    from tvm import te

    a = te.placeholder((1,), "float32", name="a")
    r = te.reduce_axis((0, 1 << 40), name="r")
    c = te.compute((1,), lambda i: te.sum(a[i] * 1.0000001 + r.astype("float32"), axis=r), name="c")
    return te.create_prim_func([a, c]).with_attr("global_symbol", "main")


def candidate(func, path: Path, target="llvm"):
    """A built candidate as MetaSchedule's RunnerInput."""
    import tvm
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo
    from tvm.s_tir.meta_schedule.runner import RunnerInput

    lib = tvm.compile(tvm.IRModule({"main": func}), target=target)
    lib.export_library(str(path))
    return RunnerInput(str(path), "cpu", ArgInfo.from_prim_func(func))


def stateful_stream(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """`steps` frames for the stateful keyword spotter ([steps, 1, 3, 40]) and LiteRT's reference
    kernels' outputs invoked on them in sequence ([steps, 1, 1]), which differ from each frame's
    output from the initial states (so a run that restarts from them at every step fails)."""
    from edgetune.oracle import LiteRTModel

    frames = np.random.default_rng(14).integers(-118, -68, (steps, 1, 3, 40)).astype(np.int8)
    stream = LiteRTModel(STATEFUL, 1, reference_kernels=True)
    expected = np.stack([stream([x])[0] for x in frames])
    fresh = np.stack([LiteRTModel(STATEFUL, 1, reference_kernels=True)([x])[0] for x in frames])
    assert (expected != fresh).sum() >= 2, (expected.ravel(), fresh.ravel())
    return frames, expected


def check_stateful_stream(cli, command: str, so: Path, board: str, tmp_path: Path, steps: int = 4):
    """`edgetune COMMAND so --board B` (run through the `cli` fixture) on a `stateful_stream`
    (one .npy): its outputs equal LiteRT's over the same sequence. Returns the JSON report."""
    import json

    frames, expected = stateful_stream(steps)
    np.save(tmp_path / "frames.npy", frames)
    out = tmp_path / f"{command}-{board}.npy"
    result = cli(command, so, "--board", board, "--input", tmp_path / "frames.npy", "--output",
                 out, "--repeat", "1", "--json")  # fmt: skip
    assert result.code == 0, result.err
    np.testing.assert_array_equal(np.load(out), expected)
    report = json.loads(result.out)
    assert (report["steps"], report["states"]) == (steps, 6)
    assert report["outputs"][0]["shape"] == [steps, 1, 1]
    return report
