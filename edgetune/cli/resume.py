"""After `tune`: the command that builds its result, or, interrupted, what it kept and the
command that resumes it (the same options, as the user gave them)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from .output import report, status

if TYPE_CHECKING:
    from ..records import RecordStore


def resume_command(args: argparse.Namespace) -> str:
    """`edgetune tune ...` with every option that decides what the records folder holds."""
    words = ["edgetune", "tune", args.model, "--board", args.board, "--trials", str(args.trials),
             "--records", args.records, "--search", args.search]  # fmt: skip
    for shape in args.input_shape or []:
        words += ["--input-shape", shape]
    if args.final_top is not None:
        words += ["--final-top", str(args.final_top)]
    if args.no_library:
        words.append("--no-library")
    elif args.library:
        words += ["--library", args.library]
    return shlex.join(words)


def build_command(args: argparse.Namespace) -> str:
    """`edgetune build ...` of a finished tune's model and records (`-o` the model's name)."""
    words = ["edgetune", "build", args.model, *(["--board", args.board] if args.board != "host"
             else []), "--records", args.records]  # fmt: skip
    for shape in args.input_shape or []:
        words += ["--input-shape", shape]
    return shlex.join([*words, "-o", f"{Path(args.model).stem}.so"])


def interrupted(args: argparse.Namespace, store: RecordStore) -> int:
    """Say what an interrupted `tune` kept and how to resume it (also as --json); exit 130."""
    kept, again = store.summary(), resume_command(args)
    reused = f", and {kept.reused} records reused from the library" if kept.reused else ""
    status(f"edgetune: interrupted; {kept.measured} measured trials are kept in "
           f"{store.path}{reused} ({kept.valid} valid records): run the same command again to "
           f"resume:\n  {again}")  # fmt: skip
    if args.json:
        data = {"interrupted": True, "records": str(store.path), "measured": kept.measured,
                "reused": kept.reused, "valid": kept.valid, "resume": again}  # fmt: skip
        report(args, data, [])
    return 130
