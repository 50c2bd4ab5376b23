"""After `tune`: the command that builds its result, or, interrupted, what it kept and the
command that resumes it (the same options, as the user gave them)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from ..stop import INTERRUPTED
from .output import report, status

if TYPE_CHECKING:
    from ..records import RecordStore


def resume_command(args: argparse.Namespace) -> str:
    """`edgetune tune ...` as the user gave it: every option not at its default (the search's
    seed and batch size, timeouts, --quiet and --json too: the same run goes on)."""
    words = ["edgetune", "tune"]
    for action in args.parser._actions:  # tune's parser (its set_defaults)
        value = getattr(args, action.dest, None)
        if not action.option_strings:  # the model
            words.append(str(value))
        elif action.dest not in ("help", "verbose") and value not in (None, action.default):
            option = max(action.option_strings, key=len)
            if action.nargs == 0:  # a flag
                words.append(option)
            else:
                for one in value if isinstance(value, list) else [value]:
                    words += [option, str(one)]
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
    return INTERRUPTED
