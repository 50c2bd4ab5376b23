"""Argument types for numbers that have a floor: a bad value is an argparse error (exit 2, one
line naming the option), never a traceback from deep inside TVM or NumPy."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def at_least(minimum: int, meaning: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum` (`meaning`: what the minimum means)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum}{meaning} or more, not {value}")
        return value

    return parse


def seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: '{text}'") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return value


COUNT = at_least(0)
POSITIVE = at_least(1)
