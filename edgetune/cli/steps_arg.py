"""`--steps N` of `run`, `deploy` and `compare`: a sequence of invocations, a stateful model's
states carried from one to the next."""

from __future__ import annotations

import argparse

from .numbers import POSITIVE

HELP = (
    "invoke the model N times in sequence (default 1, or the N the --input files hold): a "
    "stateful model (resource variables) carries its states from one invocation to the next, "
    "as LiteRT does. Each --input .npy is either one array of the input's shape (every step) or "
    "[N, ...] (one per step); random inputs get a new seed per step. With N > 1 the latency is "
    "the last step's"
)
WRITTEN = ", and the outputs are written stacked the same way, [N, ...]"
COMPARED = ", and every step's outputs are compared"


def add_steps_arg(parser: argparse.ArgumentParser, writes_outputs: bool = True) -> None:
    """`writes_outputs`: the command writes them (--output), else it compares them."""
    help_text = HELP + (WRITTEN if writes_outputs else COMPARED)
    parser.add_argument("--steps", type=POSITIVE, metavar="N", help=help_text)
