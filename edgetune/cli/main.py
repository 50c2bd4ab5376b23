"""Entry point: parses arguments, dispatches to a subcommand, turns errors into one line."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import NO_SPACE, EdgetuneError, no_space
from . import (
    boards,
    build,
    ci,
    compare,
    demo,
    deploy,
    farm,
    library,
    ops,
    profile,
    report,
    run,
    space,
    tasks,
    tune,
)
from .args import add_version_arg

# Subcommand modules, in the order `edgetune --help` lists them. Each defines
# `register(subparsers)` (adding its parser with set_defaults(func=run)) and `run(args) -> int`.
COMMANDS = [
    boards, tasks, tune, build, run, profile, compare, report, library, ci, demo, space, farm,
    deploy, ops,
]  # fmt: skip

DESCRIPTION = """\
edgetune: tune TFLite models for edge boards with TVM MetaSchedule, then cross-compile them.

typical flow:
  edgetune boards                                   what boards are defined (boards/*.toml)
  edgetune tasks  model.tflite --board host         the tuning tasks the model splits into
  edgetune tune   model.tflite --board host --trials 200 --records recs/
  edgetune build  model.tflite --board host --records recs/ -o model.so
  edgetune run    model.so --board host --input in.npy --output out.npy
  edgetune profile model.tflite --board host --records recs/   (time per kernel in the model)
  edgetune compare model.tflite --board host --records recs/   (vs the LiteRT interpreter)
  edgetune report recs/ -o report.html                         (how the tuning went, charts)
  edgetune library --board host                                (what the records library holds)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgetune",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks and TVM logs")
    add_version_arg(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; `entry.main` (the `edgetune` executable) also guards the import."""
    if bad := [a for a in (sys.argv[1:] if argv is None else argv) if _undecodable(str(a))]:
        shown = os.fsencode(bad[0]).decode("utf-8", "replace")
        print(f"edgetune: error: '{shown}' is not text in this locale's encoding "
              f"({sys.getfilesystemencoding()}): TVM takes UTF-8 paths; run in a UTF-8 locale "
              "(LANG=C.UTF-8) or with PYTHONUTF8=1", file=sys.stderr)  # fmt: skip
        return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except EdgetuneError as err:
        if args.verbose:
            raise
        print(f"edgetune: error: {err}", file=sys.stderr)
        return err.exit_code
    except OSError as err:
        if args.verbose or err.errno not in NO_SPACE:
            raise
        print(f"edgetune: error: {no_space(err)}", file=sys.stderr)
        return 1


def _undecodable(arg: str) -> bool:
    """Whether an argument holds bytes the locale could not decode (surrogate escapes)."""
    return any("\udc80" <= ch <= "\udcff" for ch in arg)
