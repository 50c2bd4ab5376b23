"""`edgetune library`: what a records library holds, per key folder and per task family."""

from __future__ import annotations

import argparse
import textwrap

from ..paths import library_dir
from .library_args import named_library
from .output import report, status, table
from .output_args import add_json_arg

FOLDER_COLUMNS = [
    "folder", "target", "tvm", "toolchain", "workloads", "families", "records", "size"
]  # fmt: skip
FAMILY_COLUMNS = ["family", "workloads", "records", "trials_per_task"]


def register(sub) -> None:
    p = sub.add_parser(
        "library",
        help="show what a records library holds",
        description=textwrap.fill(
            "List the key folders of a records library (every `tune` adds its measurements to "
            "one; docs/search.md): per folder the target, TVM version and toolchain its records "
            "belong to (records of other keys never meet), its workloads (tasks measured), task "
            "families and records. --board also lists the families of that board's folders, "
            "which `tune` draws on for similar tasks. It only reads the library.",
            79,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  edgetune library                        the default library (~/.cache/edgetune)\n"
        "  edgetune library --library /srv/lib     a team's shared library\n"
        "  edgetune library --board rpi3 --json    rpi3's folders and families, as JSON",
    )
    p.add_argument(
        "--library",
        metavar="DIR",
        help="library root or one key folder (default: $EDGETUNE_LIBRARY, else "
        "~/.cache/edgetune/library)",
    )
    p.add_argument("--board", help="only the folders a tune on this board uses, with families")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..records import library_folders
    from ..records.library import library_key

    root = named_library(args.library) if args.library else library_dir()
    folders, broken = library_folders(root)
    if args.board:
        from ..board import load_board

        key = library_key(load_board(args.board))
        same = ("target", "toolchain", "tvm")  # the folders of either int8 requantization
        folders = [f for f in folders if all(f.key.get(k) == key[k] for k in same)]
    rows = [f.summary() for f in folders]
    lines = [f"records library {root}: {len(rows)} key folder{'' if len(rows) == 1 else 's'}"]
    if rows:
        lines += table(rows, FOLDER_COLUMNS)
    elif not broken:
        where = " for this board" if args.board else ""
        lines.append(f"nothing here yet{where}: every `tune` adds its measurements to it")
    for f, row in zip(folders if args.board else [], rows):
        row["family_table"] = [{"family": k, **v} for k, v in f.families().items()]
        n = len(row["family_table"])
        lines += ["", f"{row['folder']}: {n} famil{'y' if n == 1 else 'ies'}"]
        lines += table(row["family_table"], FAMILY_COLUMNS)
    report(args, {"library": str(root), "folders": rows, "damaged": broken}, lines)
    for message in broken:
        status(f"edgetune: error: {message}")
    return 2 if broken else 0
