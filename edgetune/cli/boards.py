"""`edgetune boards`: the boards defined in boards/*.toml."""

from __future__ import annotations

from ..board import known_boards, load_board
from .args import add_json_arg
from .output import report, table

COLUMNS = ["name", "target", "cores", "rule_set", "toolchain", "connection"]


def register(sub) -> None:
    p = sub.add_parser(
        "boards",
        help="list the defined boards",
        description="List boards/*.toml (and $EDGETUNE_BOARDS): name, target, cores, rule set, "
        "toolchain, connection.",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    rows = [load_board(name).summary() for name in known_boards()]
    report(args, rows, table(rows, COLUMNS))
    return 0
