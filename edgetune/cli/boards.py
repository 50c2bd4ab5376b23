"""`edgetune boards`: the boards defined in boards/*.toml."""

from __future__ import annotations

from ..board import known_boards, load_board, shadowed_boards
from ..errors import BoardError
from .output import report, status, table
from .output_args import add_json_arg

COLUMNS = ["name", "target", "cores", "rule_set", "toolchain", "connection", "timings"]


def register(sub) -> None:
    p = sub.add_parser(
        "boards",
        help="list the defined boards",
        description="List boards/*.toml (and $EDGETUNE_BOARDS): name, target, cores, rule set, "
        "toolchain, connection. A board is named by its file; a file in $EDGETUNE_BOARDS "
        "replaces a shipped board of the same name (noted below the table).",
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    rows, broken = [], []
    for name in known_boards():
        try:
            rows.append(load_board(name).summary())
        except BoardError as err:  # one broken file must not hide the others
            broken.append(str(err))
    report(args, rows, table(rows, COLUMNS))
    for name, (used, *hidden) in shadowed_boards().items():
        status(f"note: board '{name}' is {used}, which hides {', '.join(map(str, hidden))}")
    for message in broken:
        status(f"edgetune: error: {message}")
    return 2 if broken else 0
