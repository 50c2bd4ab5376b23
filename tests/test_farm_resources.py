"""Board files for the farm: connection tables parsed, mistakes named with the board."""

from __future__ import annotations

import pytest

from edgetune.board import load_board
from edgetune.board.board import board_from_dict
from edgetune.errors import BoardError
from edgetune.farm.resources import farm_spec

BASE = {"name": "b", "target": {"kind": "llvm"}}


def _board(connection):
    return board_from_dict({**BASE, "connection": connection})


def test_shipped_farm_boards_parse():
    a53 = farm_spec(load_board("qemu-a53"))
    assert (a53.tracker, a53.key, a53.server.launch) == ("127.0.0.1:9190", "qemu-a53", "qemu")
    rpi3 = farm_spec(load_board("rpi3"))
    assert rpi3.server.launch == "external" and rpi3.ssh is None  # servers started by the user


def test_full_connection_tables():
    spec = farm_spec(
        _board(
            {
                "kind": "rpc",
                "tracker": "10.0.0.2:9190",
                "key": "pi",
                "server": {"launch": "ssh", "count": 2, "port": 9090},
                "ssh": {"host": "pi.local", "user": "pi", "key_file": "~/.ssh/id"},
                "serial": {"device": "/dev/ttyUSB0", "baud": 921600},
                "power": {"command": "relay 3 cycle", "wait_s": 90},
            }
        )
    )
    assert (spec.tracker_host, spec.tracker_port, spec.server.count) == ("10.0.0.2", 9190, 2)
    assert spec.ssh.where == "pi@pi.local:22" and not spec.ssh.key_file.startswith("~")
    assert (spec.serial.baud, spec.power.wait_s) == (921600, 90)


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ({"kind": "local"}, "board 'b' is not a farm board"),
        ({"kind": "rpc", "tracker": "x:1"}, "board 'b': connection.key"),
        ({"kind": "rpc", "tracker": "nohost", "key": "k"}, "HOST:PORT"),
        ({"kind": "ssh"}, r"board 'b': connection.kind=ssh needs \[connection.ssh\]"),
        ({"kind": "rpc", "tracker": "h:1", "key": "k", "server": {"launch": "ssh"}}, "needs"),
        ({"kind": "rpc", "tracker": "h:1", "key": "k", "server": {"launch": "tcp"}}, "launch"),
        ({"kind": "ssh", "ssh": {"host": "h"}}, "board 'b': connection.ssh: .*user"),
        (
            {"kind": "ssh", "ssh": {"host": "h", "user": "u", "colour": 1}},
            r"connection.ssh: unknown key 'colour' \(known: host, user, port",
        ),
        (
            {"kind": "ssh", "ssh": {"host": "h", "user": "u", "port": "22"}},
            "board 'b': connection.ssh.port must be an integer, got '22'",
        ),
        (
            {"kind": "rpc", "tracker": "h:1", "key": "k", "server": {"count": True}},
            "connection.server.count must be an integer, got True",
        ),
    ],
)
def test_mistakes_name_the_board(connection, message):
    with pytest.raises(BoardError, match=message):
        farm_spec(_board(connection))


def test_relative_key_files_are_beside_the_board_file(tmp_path):
    """As rules_module is: the board works from any folder (it read them from the current one)."""
    (tmp_path / "b.toml").write_text(
        'name = "b"\n[target]\nkind = "llvm"\n[connection]\nkind = "ssh"\n'
        '[connection.ssh]\nhost = "h"\nuser = "u"\nkey_file = "keys/id"\nknown_hosts = "kh"\n'
    )
    ssh = farm_spec(load_board(str(tmp_path / "b.toml"))).ssh
    assert (ssh.key_file, ssh.known_hosts) == (str(tmp_path / "keys/id"), str(tmp_path / "kh"))


def test_hints_name_a_board_given_by_path_by_its_path(tmp_path):
    """`farm up --board rpi3` would start the shipped rpi3, not the user's copy in another
    folder that keeps its name."""
    from edgetune.farm.resources import up_hint
    from edgetune.paths import REPO_DIR

    copy = tmp_path / "mine" / "rpi3.toml"
    copy.parent.mkdir()
    copy.write_text((REPO_DIR / "boards" / "rpi3.toml").read_text(encoding="utf-8"))
    assert up_hint(farm_spec(load_board(str(copy)))).endswith(f"farm up --board {copy}")
    assert up_hint(farm_spec(load_board("qemu-a53"))).endswith("farm up --board qemu-a53")
    shipped = load_board(str(REPO_DIR / "boards" / "qemu-a53.toml"))
    assert shipped.argument == "qemu-a53"


def test_a_prepared_qemu_board_with_parts_missing_is_not_ready(tmp_path):
    """A cleaned cache that kept the ready mark alone: `farm up` said "rpc server exited: (empty
    log)"; now the board is prepared again (its parts named)."""
    from edgetune.farm import qemu

    (tmp_path / qemu.READY_MARK).write_text("prepared\n")
    qemu.guest_python(tmp_path).write_text("#!/bin/sh\n")
    assert not qemu.is_ready(tmp_path)
    assert qemu._missing(tmp_path) == [str(tmp_path / "sysroot/usr/bin/python3.11"),
                                       str(tmp_path / "sysroot/opt/pysite")]  # fmt: skip
    (tmp_path / "sysroot/usr/bin").mkdir(parents=True)
    (tmp_path / "sysroot/usr/bin/python3.11").write_text("")
    (tmp_path / "sysroot/opt/pysite").mkdir(parents=True)
    assert qemu.is_ready(tmp_path)
