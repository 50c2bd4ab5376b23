"""Which boards the farm commands act on, and `farm status` as table rows."""

from __future__ import annotations

from typing import Any

from ..board import Board, known_boards, load_board
from ..errors import BoardError

FARM_KINDS = ("rpc", "ssh")
STATUS_COLUMNS = ["board", "server", "tracker", "port", "registered", "status", "health", "reason"]


def farm_boards(names: list[str] | None) -> list[Board]:
    """The named boards (each must be a farm board), or every farm board if none is named."""
    if not names:
        return [b for b in map(load_board, known_boards()) if b.connection.kind in FARM_KINDS]
    boards = [load_board(n) for n in names]
    for b in boards:
        if b.connection.kind not in FARM_KINDS:
            raise BoardError(
                f"board '{b.name}' is not a farm board (connection {b.connection.kind})"
            )
    return boards


def status_rows(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per server (or per board without servers) of `strategies.status` results."""
    rows: list[dict[str, Any]] = []
    for st in statuses:
        board = st["board"]
        if st["kind"] == "ssh":
            rows.append({"board": board, "server": "(ssh runner)", "health": st["health"]})
        elif not st["tracker_up"]:
            rows.append({"board": board, "tracker": st["tracker"], "status": "tracker down",
                         "reason": st.get("error", "")})  # fmt: skip
        elif not st["servers"]:
            rows.append({"board": board, "server": "(none started)", "tracker": st["tracker"]})
        for s in st.get("servers", []) if st["kind"] != "ssh" and st["tracker_up"] else []:
            rows.append({
                "board": board, "server": s["server"], "tracker": st["tracker"],
                "port": s["port"], "registered": "yes" if s["registered"] else "no",
                "status": s["status"], "health": s["health"] or "-", "reason": s["reason"],
            })  # fmt: skip
    return rows
