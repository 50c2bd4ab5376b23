"""A board's serial console with pyserial: log in, run a command, read the boot log, and tell a
dead board (kernel panic, no prompt) from a live one."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import serial

from ...errors import BoardError
from ..resources import SerialSpec

PANIC = re.compile(rb"Kernel panic|end Kernel panic|Oops:|BUG: ")
LOGIN = re.compile(rb"login:\s*$")
PASSWORD = re.compile(rb"[Pp]assword:\s*$")
MARK = "__edgetune_rc="


class ConsoleError(BoardError):
    """The console does not answer as a live board would."""


@dataclass(frozen=True)
class ConsoleState:
    alive: bool
    reason: str = ""


class SerialConsole:
    def __init__(self, board: str, spec: SerialSpec) -> None:
        self.board, self.spec = board, spec
        try:
            self.port = serial.serial_for_url(spec.device, baudrate=spec.baud, timeout=0.1)
        except (serial.SerialException, OSError) as err:
            raise ConsoleError(f"board '{board}': serial console {spec.device}: {err}") from None
        self.log = bytearray()  # everything read from the console, for the user

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _fail(self, cause: str) -> ConsoleError:
        return ConsoleError(f"board '{self.board}': serial console {self.spec.device}: {cause}")

    def _read_until(self, patterns: list[re.Pattern[bytes]], timeout: float) -> tuple[int, bytes]:
        """Read until the tail matches one pattern; (index, text read). A panic raises."""
        got = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = self.port.read(4096)
            if chunk:
                got += chunk
                self.log += chunk
                if PANIC.search(got):
                    raise self._fail("kernel panic on the console")
                tail = bytes(got[-200:])
                for i, pat in enumerate(patterns):
                    if pat.search(tail):
                        return i, bytes(got)
        raise self._fail(f"no prompt within {timeout:.0f} s")

    def _write(self, text: str) -> None:
        self.port.write(text.encode() + b"\r")
        self.port.flush()

    def read_boot_log(self, timeout: float) -> str:
        """Read what the board prints until its login prompt (or a panic)."""
        _, text = self._read_until([LOGIN], timeout)
        return text.decode(errors="replace")

    def login(self) -> None:
        """Wake the console and log in (no-op if a shell prompt is already there)."""
        prompt = re.compile(re.escape(self.spec.prompt.rstrip()).encode() + rb"\s*$")
        idx = self._wake([LOGIN, prompt])
        if idx == 1:
            return
        self._write(self.spec.login)
        idx, _ = self._read_until([PASSWORD, prompt], self.spec.timeout_s)
        if idx == 0:
            self._write(self.spec.password)
            idx, text = self._read_until([prompt, LOGIN], self.spec.timeout_s)
            if idx == 1:
                raise self._fail(f"login as '{self.spec.login}' refused")

    def _wake(self, patterns: list[re.Pattern[bytes]], tries: int = 3) -> int:
        """Press enter until a prompt shows (a console often needs more than one)."""
        for _ in range(tries):
            self._write("")
            try:
                return self._read_until(patterns, self.spec.timeout_s / tries)[0]
            except ConsoleError as err:
                if "panic" in str(err):
                    raise
        raise self._fail(f"no prompt within {self.spec.timeout_s:.0f} s")

    def run(self, command: str, timeout: float | None = None) -> tuple[int, str]:
        """Run a shell command on the console; returns (exit code, output)."""
        self._write(f"{command}; echo {MARK}$?")
        pat = re.compile(re.escape(MARK).encode() + rb"(\d+)\s*\r?\n")
        got = bytearray()
        deadline = time.monotonic() + (timeout or self.spec.timeout_s)
        while time.monotonic() < deadline:
            chunk = self.port.read(4096)
            got += chunk
            self.log += chunk
            if PANIC.search(got):
                raise self._fail("kernel panic on the console")
            m = pat.search(got)
            if m:
                out = bytes(got[: m.start()]).decode(errors="replace")
                lines = out.replace("\r", "").split("\n")
                body = [ln for ln in lines[1:] if ln.strip()]  # drop the echoed command
                return int(m.group(1)), "\n".join(body)
        raise self._fail(
            f"`{command[:60]}` gave no answer within {timeout or self.spec.timeout_s:.0f} s"
        )

    def state(self) -> ConsoleState:
        """Alive if a login succeeds and `echo` answers; else the reason (panic, no prompt)."""
        try:
            self.login()
            code, out = self.run("echo edgetune-alive")
        except ConsoleError as err:
            return ConsoleState(False, str(err).split(": ", 2)[-1])
        ok = code == 0 and "edgetune-alive" in out
        return ConsoleState(ok, "" if ok else "shell does not answer")
