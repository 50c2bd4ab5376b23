"""The command that resumes an interrupted `tune`: the same options, as the user gave them."""

from __future__ import annotations

import argparse
import shlex


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
