"""How the subcommands print: JSON or lines on stdout, status on stderr."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..runtime.result import RunResult


def report(args: argparse.Namespace, data: Any, lines: list[str]) -> None:
    """A command's result: JSON on stdout with --json, else the lines for a person."""
    if getattr(args, "json", False):
        from ..outputs import strict_json

        json.dump(strict_json(data), sys.stdout, indent=2, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(lines))


def check_run_output(args: argparse.Namespace) -> None:
    """`run`/`deploy`: a bad --output refused before the run."""
    from ..outputs import output_file

    if args.output:
        output_file(args.output, "--output")


def report_run(args: argparse.Namespace, result: RunResult) -> None:
    """`run`/`deploy`: write the outputs if asked, then report the run."""
    from ..runtime import save_outputs

    written = save_outputs(args.output, result.outputs) if args.output else None
    lines = result.lines() + ([f"outputs written to {written}"] if written else [])
    report(args, {**result.to_json(), "output": str(written) if written else None}, lines)


def table(rows: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """A plain aligned text table, as lines."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    return [
        "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in [columns, *cells]
    ]


def status(message: str) -> None:
    """Progress and status lines go to stderr, so stdout stays clean for --json."""
    print(message, file=sys.stderr, flush=True)
