"""`--steps N` of `run`, `deploy` and `compare`: a sequence of invocations, a stateful model's
states carried from one to the next."""

from __future__ import annotations

import argparse

from .numbers import POSITIVE

HELP = (
    "invoke the model N times in sequence (default 1, or the N the --input files hold): a "
    "stateful model (resource variables) carries its states from one invocation to the next, "
    "as LiteRT does. Each --input .npy is either one array of the input's shape (every step) or "
    "[N, ...] (one per step); random inputs get a new seed per step. With N > 1 the outputs are "
    "written stacked the same way, [N, ...], and the latency is the last step's"
)


def add_steps_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--steps", type=POSITIVE, metavar="N", help=HELP)
