"""`edgetune farm up|status|down`: the TVM RPC tracker and the boards' rpc servers."""

from __future__ import annotations

from ..errors import BoardError
from .output import report, status, table
from .output_args import add_json_arg


def register(sub) -> None:
    p = sub.add_parser(
        "farm",
        help="start, check and stop the board farm (TVM RPC tracker + rpc servers)",
        description="up: start the tracker and the boards' rpc servers (the emulated qemu-a53 "
        "board is prepared on first use), then health-check them. status: per board, is the "
        "tracker up, which servers are registered, health check result, servers taken out of "
        "the pool and why (exit 1 when a board cannot take candidates now). down: stop "
        "servers and trackers started by `farm up`.",
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
    for action in farm_sub._choices_actions:  # each action's --help says what it does
        farm_sub.choices[action.dest].description = action.help


def run_up(args) -> int:
    from ..farm import strategies
    from ..farm.inventory import farm_boards

    failed = 0
    for board in farm_boards(args.board):
        records = strategies.bring_up(board, status, args.accept_new_host_key)
        for rec in records:
            ok = rec.status == "up" and rec.health == "ok"
            failed += not ok
            what = "healthy" if ok else f"OUT of the pool: {rec.reason or rec.health}"
            print(f"{rec.name}: port {rec.port} ({rec.launch}) {what}")
        if board.connection.kind == "rpc" and not records:  # servers edgetune does not start
            try:
                strategies.reachable(board)
            except BoardError as err:
                status(f"edgetune: error: {err} (the tracker stays up for them to register; "
                       f"`edgetune farm down --board {board.argument}` stops it)")  # fmt: skip
                failed += 1
        if board.connection.kind == "ssh":
            print(f"{board.name}: reachable over SSH")
    return 1 if failed else 0


def run_status(args) -> int:
    from ..farm import strategies
    from ..farm.inventory import STATUS_COLUMNS, farm_boards, status_rows

    rows = [strategies.status(b, run_health=not args.no_health) for b in farm_boards(args.board)]
    report(args, rows, table(status_rows(rows), STATUS_COLUMNS))
    return 0 if all(r["usable"] for r in rows) else 1


def run_down(args) -> int:
    from ..farm import strategies

    strategies.down(args.board, status)
    return 0
