"""`edgetune farm up|status|down`: the TVM RPC tracker and the boards' rpc servers."""

from __future__ import annotations

from ..board import known_boards, load_board
from ..errors import BoardError
from .common import add_json_arg, print_json, print_table, status

FARM_KINDS = ("rpc", "ssh")


def register(sub) -> None:
    p = sub.add_parser(
        "farm",
        help="start, check and stop the board farm (TVM RPC tracker + rpc servers)",
        description="up: start the tracker and the boards' rpc servers (the emulated qemu-a53 "
        "board is prepared on first use), then health-check them. status: per board, is the "
        "tracker up, which servers are registered, health check result, servers taken out of "
        "the pool and why. down: stop servers and trackers started by `farm up`.",
    )
    farm_sub = p.add_subparsers(dest="farm_command", metavar="ACTION", required=True)
    up = farm_sub.add_parser("up", help="start the tracker and the boards' rpc servers")
    up.add_argument("--board", action="append", help="board to bring up (repeatable; default all)")
    up.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust and record SSH host keys not yet in the board's known_hosts file",
    )
    up.set_defaults(func=run_up)
    st = farm_sub.add_parser("status", help="per board: tracker, servers, health")
    st.add_argument("--board", action="append", help="board to show (repeatable; default all)")
    st.add_argument("--no-health", action="store_true", help="skip running the health kernel")
    add_json_arg(st)
    st.set_defaults(func=run_status)
    down = farm_sub.add_parser("down", help="stop what `farm up` started")
    down.add_argument("--board", action="append", help="only this board's servers (repeatable)")
    down.set_defaults(func=run_down)


def _boards(names: list[str] | None):
    if names:
        boards = [load_board(n) for n in names]
        for b in boards:
            if b.connection.kind not in FARM_KINDS:
                raise BoardError(
                    f"board '{b.name}' is not a farm board (connection {b.connection.kind})"
                )
        return boards
    return [b for b in map(load_board, known_boards()) if b.connection.kind in FARM_KINDS]


def run_up(args) -> int:
    from ..farm import strategies

    failed = 0
    for board in _boards(args.board):
        records = strategies.bring_up(board, status, args.accept_new_host_key)
        for rec in records:
            ok = rec.status == "up" and rec.health == "ok"
            failed += not ok
            what = "healthy" if ok else f"OUT of the pool: {rec.reason or rec.health}"
            print(f"{rec.name}: port {rec.port} ({rec.launch}) {what}")
        if board.connection.kind == "ssh":
            print(f"{board.name}: reachable over SSH")
    return 1 if failed else 0


def run_status(args) -> int:
    from ..farm import strategies

    rows = [strategies.status(b, run_health=not args.no_health) for b in _boards(args.board)]
    if args.json:
        print_json(rows)
        return 0
    table = []
    for row in rows:
        if row["kind"] == "ssh":
            table.append({"board": row["board"], "server": "(ssh runner)", "health": row["health"]})
            continue
        if not row["tracker_up"]:
            table.append(
                {
                    "board": row["board"],
                    "tracker": row["tracker"],
                    "status": "tracker down",
                    "reason": row.get("error", ""),
                }
            )
            continue
        if not row["servers"]:
            table.append(
                {"board": row["board"], "server": "(none started)", "tracker": row["tracker"]}
            )
        for s in row["servers"]:
            table.append(
                {
                    "board": row["board"],
                    "server": s["server"],
                    "tracker": row["tracker"],
                    "port": s["port"],
                    "registered": "yes" if s["registered"] else "no",
                    "status": s["status"],
                    "health": s["health"] or "-",
                    "reason": s["reason"],
                }
            )
    print_table(
        table, ["board", "server", "tracker", "port", "registered", "status", "health", "reason"]
    )
    return 0


def run_down(args) -> int:
    from ..farm import strategies

    strategies.down(args.board, status)
    return 0
