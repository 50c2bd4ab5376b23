"""Entry point: parses arguments, dispatches to a subcommand, turns errors into one line."""

from __future__ import annotations

import argparse
import sys
import traceback

from ..errors import EdgetuneError, check_decodable, user_error, with_causes
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
from .output_args import add_verbose_arg, add_version_arg

# Subcommands in `--help` order; each has register(subparsers) (set_defaults(func=run)) and run.
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
    add_version_arg(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    add_verbose_arg(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; `entry.main` (the `edgetune` executable) also guards the import."""
    args = (parser := build_parser()).parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        check_decodable(sys.argv[1:] if argv is None else argv)
        return int(args.func(args) or 0)
    except (EdgetuneError, OSError) as err:
        if (user := user_error(err)) is None:
            raise
        if args.verbose:  # the traceback with its causes, then the error and its exit code
            traceback.print_exception(with_causes(err))
        print(f"edgetune: error: {user}", file=sys.stderr)
        return user.exit_code
