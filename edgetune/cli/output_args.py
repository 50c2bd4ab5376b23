"""How a command speaks: --version, --verbose (before or after the command), --quiet, --json."""

from __future__ import annotations

import argparse


class _Version(argparse.Action):
    """--version: edgetune's and TVM's versions, read (package metadata, ~30 ms) only when
    asked, not at every command's start."""

    def __init__(self, option_strings: list[str], dest: str, **_kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .. import version_text

        print(version_text())
        parser.exit()


def add_version_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=_Version)


def add_verbose_arg(parser: argparse.ArgumentParser) -> None:
    """--verbose/-v before the command, or after it (and its subcommand: `farm up -v`)."""
    help_text = "show tracebacks and TVM logs"
    parser.add_argument("--verbose", "-v", action="store_true", help=help_text)
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    child.add_argument("--verbose", "-v", action="store_true",
                                       default=argparse.SUPPRESS, help=help_text)  # fmt: skip
                    pending.append(child)


def add_quiet_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no progress (the header, per-task library status, batches, final phase): "
        "warnings and the result only",
    )


def add_json_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
