"""Serial consoles through pyserial against a pty whose other end behaves like a board (boot
log, login prompt, shell, kernel panic), and recovery of a dead board by its power command."""

from __future__ import annotations

import os
import time

import pytest
from farm_support import ConsoleEmulator, SSHServer, write_board

from edgetune.board import load_board
from edgetune.farm import strategies
from edgetune.farm.drivers.serial_console import ConsoleError, SerialConsole
from edgetune.farm.resources import SerialSpec, farm_spec


@pytest.fixture
def console(tmp_path):
    emulator = ConsoleEmulator(tmp_path)
    yield emulator
    emulator.close()


def _spec(emulator, password="raspberry", timeout=10.0):
    return SerialSpec(device=emulator.device, password=password, timeout_s=timeout)


def test_login_run_and_boot_log(console):
    with SerialConsole("pi", _spec(console)) as tty:
        console.power_cycle()  # opening the port drops what came before, as on a real UART
        boot = tty.read_boot_log(timeout=5)
        assert "Booting Linux" in boot and boot.rstrip().endswith("login:")
        tty.login()
        assert tty.run("echo hello board; false") == (1, "hello board")
        assert tty.run("printf 'a b\\n'") == (0, "a b")
        assert tty.state().alive


def test_wrong_password_is_refused(console):
    refused = pytest.raises(ConsoleError, match="board 'pi': serial console .*login as 'root'")
    with SerialConsole("pi", _spec(console, password="nope")) as tty, refused:
        tty.login()


def test_kernel_panic_means_dead_board(console):
    with SerialConsole("pi", _spec(console)) as tty:
        tty.login()
        console.panic()
        state = tty.state()
        assert not state.alive and "kernel panic" in state.reason


def test_silent_console_means_dead_board(tmp_path):
    master, slave = os.openpty()  # nothing answers on the other end
    try:
        spec = SerialSpec(device=os.ttyname(slave), timeout_s=1.0)
        with SerialConsole("pi", spec) as tty:
            state = tty.state()
        assert not state.alive and "no prompt within 1 s" in state.reason
    finally:
        os.close(master)
        os.close(slave)


def test_missing_device_names_the_board():
    with pytest.raises(ConsoleError, match="board 'pi': serial console /dev/ttyNOPE"):
        SerialConsole("pi", SerialSpec(device="/dev/ttyNOPE"))


def test_dead_board_is_power_cycled_and_ssh_awaited(console, tmp_path, monkeypatch):
    sshd = SSHServer(tmp_path / "sshd").start()
    try:
        text = f"""
name = "pi"
rule_set = "cortex-a53"
toolchain = "aarch64-linux-gnu"
[target]
kind = "llvm"
mtriple = "aarch64-linux-gnu"
[hardware]
cores = 4
[connection]
kind = "ssh"
[connection.serial]
device = "{console.device}"
password = "raspberry"
timeout_s = 10
[connection.power]
command = "touch '{console.power_file}'"
wait_s = 20
""" + sshd.table(tmp_path / "work")
        write_board(tmp_path / "boards", "pi", text)
        monkeypatch.setenv("EDGETUNE_BOARDS", str(tmp_path / "boards"))
        board = load_board("pi")
        console.panic()
        t0 = time.monotonic()
        assert strategies.recover_board(board, farm_spec(board), "rpc server lost")
        while console.boots < 2 and time.monotonic() - t0 < 30:
            time.sleep(0.1)  # the emulated board reboots a moment after its power command
        assert console.boots == 2  # the power command rebooted it
        assert time.monotonic() - t0 < 30
        with SerialConsole("pi", farm_spec(board).serial) as tty:
            assert tty.state().alive
    finally:
        sshd.stop()
