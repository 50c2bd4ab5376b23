"""The farm's state on disk, shared by `edgetune farm` and the runners of other processes.

$EDGETUNE_FARM_DIR (default: <cache>/farm) holds one JSON file per tracker and per rpc server,
each written atomically, plus their logs. A server that is taken out of the pool keeps its file
with status "out" and the reason, so `farm status` can show it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..paths import cache_dir


def farm_dir() -> Path:
    env = os.environ.get("EDGETUNE_FARM_DIR")
    return Path(env) if env else cache_dir() / "farm"


@dataclass
class TrackerRecord:
    host: str
    port: int
    pgid: int
    log: str

    @property
    def path(self) -> Path:
        return farm_dir() / "trackers" / f"{self.host}_{self.port}.json"


@dataclass
class ServerRecord:
    """One rpc server of a board. `pgid` is on the host (local/qemu) or on the board (ssh)."""

    board: str
    index: int
    key: str
    launch: str
    host: str
    port: int
    pgid: int = 0
    status: str = "up"  # up | out (taken out of the pool, see reason) | down
    reason: str = ""
    restarts: int = 0
    health: str = ""  # last health check: "ok" or what failed
    log: str = ""

    @property
    def name(self) -> str:
        return f"{self.board}#{self.index}"

    @property
    def path(self) -> Path:
        return farm_dir() / "servers" / f"{self.board}-{self.index}.json"


def save(record: TrackerRecord | ServerRecord) -> None:
    path = record.path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(asdict(record), indent=1), encoding="utf-8")
    os.replace(tmp, path)


def remove(record: TrackerRecord | ServerRecord) -> None:
    record.path.unlink(missing_ok=True)


def _load(cls, path: Path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def trackers() -> list[TrackerRecord]:
    paths = sorted((farm_dir() / "trackers").glob("*.json"))
    return [r for r in (_load(TrackerRecord, p) for p in paths) if r]


def tracker(host: str, port: int) -> TrackerRecord | None:
    path = farm_dir() / "trackers" / f"{host}_{port}.json"
    return _load(TrackerRecord, path) if path.exists() else None


def servers(board: str | None = None) -> list[ServerRecord]:
    paths = sorted((farm_dir() / "servers").glob("*.json"))
    found = [r for r in (_load(ServerRecord, p) for p in paths) if r]
    return [r for r in found if board is None or r.board == board]


def server_on_port(key: str, host: str, port: int) -> ServerRecord | None:
    """The server a tracker lease points at (host as the tracker saw it)."""
    found = [r for r in servers() if r.key == key and r.port == port]
    local = host in ("127.0.0.1", "localhost", "::1")
    for rec in found:
        if rec.host == host or (local and rec.launch in ("local", "qemu")):
            return rec
    return found[0] if len(found) == 1 else None
