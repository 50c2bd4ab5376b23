"""What a board file says about reaching the board: tracker, rpc servers, SSH, serial, power.

Parsed from `[connection]` of a board TOML (Board.connection.tracker/key and the sub-tables kept
in Board.connection.extra):

    [connection]
    kind = "rpc"                      # rpc: timed through the tracker; ssh: timed over SSH
    tracker = "127.0.0.1:9190"
    key = "rpi3"

    [connection.server]               # how `edgetune farm up` starts the board's rpc servers
    launch = "ssh"                    # ssh (on the board) | local (host python) | qemu |
                                      # external (default: started outside edgetune)
    count = 1                         # servers started (several boards may share one key)
    host = "0.0.0.0"                  # address the server binds to
    port = 9090                       # 0: any free port (local/qemu only)
    session_overhead_s = 30           # deadline per candidate = run_timeout_s + this

    [connection.ssh]
    host = "192.168.1.50"
    port = 22
    user = "pi"
    key_file = "~/.ssh/id_ed25519"
    known_hosts = "~/.ssh/known_hosts"
    python = "python3"                # the board's python with the TVM runtime
    workdir = "/tmp/edgetune"

    [connection.serial]
    device = "/dev/ttyUSB0"
    baud = 115200
    login = "root"
    password = ""
    prompt = "# "

    [connection.power]
    command = "uhubctl -l 1-1 -p 2 -a cycle"   # run on the host, by a shell
    wait_s = 60                                # how long the board may take to answer SSH again
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import BoardError

if TYPE_CHECKING:
    from ..board import Board

LAUNCHES = ("local", "qemu", "ssh", "external")


@dataclass(frozen=True)
class SSHSpec:
    host: str
    user: str
    port: int = 22
    key_file: str = ""
    known_hosts: str = "~/.ssh/known_hosts"
    python: str = "python3"
    workdir: str = "/tmp/edgetune"
    connect_timeout_s: float = 10.0

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


@dataclass(frozen=True)
class SerialSpec:
    device: str
    baud: int = 115200
    login: str = "root"
    password: str = ""
    prompt: str = "# "
    timeout_s: float = 10.0


@dataclass(frozen=True)
class PowerSpec:
    command: str
    wait_s: float = 60.0


@dataclass(frozen=True)
class ServerSpec:
    launch: str = "external"
    count: int = 1
    host: str = "127.0.0.1"
    port: int = 0
    session_overhead_s: float = 30.0  # per candidate, on top of measure.run_timeout_s


@dataclass(frozen=True)
class FarmSpec:
    """Everything the farm knows about one board."""

    board: str
    board_argument: str  # how `--board` names it (Board.argument)
    tracker_host: str
    tracker_port: int
    key: str
    server: ServerSpec
    ssh: SSHSpec | None = None
    serial: SerialSpec | None = None
    power: PowerSpec | None = None

    @property
    def tracker(self) -> str:
        return f"{self.tracker_host}:{self.tracker_port}"


def up_hint(spec: FarmSpec, server: bool = False) -> str:
    """What starts what is missing: `farm up`, or for a server edgetune does not launch, the
    board itself."""
    if server and spec.server.launch == "external":
        return (
            'start its rpc server on the board (launch = "external": edgetune does not): '
            f"python -m tvm.exec.rpc_server --tracker {spec.tracker} --key {spec.key}"
        )
    return f"start the farm: edgetune farm up --board {spec.board_argument}"


# the specs' field types: what a value may be, and how an error names it
TYPES = {
    "str": ((str,), "text"),
    "int": ((int,), "an integer"),
    "float": ((int, float), "a number"),
}


def _table(board: Board, name: str, cls: type, data: Any) -> Any:
    """[connection.NAME] as `cls`; BoardError naming the file and the key that is unknown,
    missing or of another type."""
    where = f"board file {board.path}" if board.path else f"board '{board.name}'"
    where += f": connection.{name}"
    if data is None:
        return None
    if not isinstance(data, dict):
        raise BoardError(f"{where} must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in data.items():
        if key not in fields:
            raise BoardError(f"{where}: unknown key '{key}' (known: {', '.join(fields)})")
        types, what = TYPES.get(str(fields[key].type), ((object,), ""))
        if not isinstance(value, types) or isinstance(value, bool):
            raise BoardError(f"{where}.{key} must be {what}, got {value!r}")
    for key, f in fields.items():
        if key not in data and f.default is dataclasses.MISSING:
            raise BoardError(f"{where}: missing required key '{key}'")
    spec = cls(**data)
    for attr in ("key_file", "known_hosts"):  # relative: to the board file, as rules_module
        if value := getattr(spec, attr, ""):
            path = Path(value).expanduser()
            if not path.is_absolute() and board.path is not None:
                path = board.path.parent / path
            object.__setattr__(spec, attr, str(path))
    return spec


def farm_spec(board: Board) -> FarmSpec:
    """The farm view of a board; BoardError naming the board if its connection is incomplete."""
    conn = board.connection
    if conn.kind not in ("rpc", "ssh"):
        raise BoardError(f"board '{board.name}' is not a farm board (connection.kind={conn.kind})")
    extra = conn.extra
    ssh = _table(board, "ssh", SSHSpec, extra.get("ssh"))
    server = _table(board, "server", ServerSpec, extra.get("server", {}))
    if server.launch not in LAUNCHES:
        raise BoardError(
            f"board '{board.name}': connection.server.launch must be one of "
            f"{', '.join(LAUNCHES)}, got '{server.launch}'"
        )
    if conn.kind == "ssh" and ssh is None:
        raise BoardError(f"board '{board.name}': connection.kind=ssh needs [connection.ssh]")
    if conn.kind == "rpc" and server.launch == "ssh" and ssh is None:
        raise BoardError(
            f"board '{board.name}': connection.server.launch=ssh needs [connection.ssh]"
        )
    host, port = conn.tracker_host_port if conn.kind == "rpc" else ("", 0)
    if conn.kind == "rpc" and not conn.key:
        raise BoardError(f"board '{board.name}': connection.key (the tracker key) is missing")
    return FarmSpec(
        board=board.name,
        board_argument=board.argument,
        tracker_host=host,
        tracker_port=port,
        key=conn.key,
        server=server,
        ssh=ssh,
        serial=_table(board, "serial", SerialSpec, extra.get("serial")),
        power=_table(board, "power", PowerSpec, extra.get("power")),
    )
