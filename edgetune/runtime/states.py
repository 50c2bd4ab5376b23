"""A model's resource variables across invocations (one rule for every place a model runs).

The compiled `main` takes the states after the inputs and returns the new states after the
outputs; a sequence of invocations feeds each call's new states to the next, as LiteRT keeps
its variables between `invoke()`s. Standard library only, on purpose: the board agent runs it
on SSH boards (uploaded beside itself as `model_states.py`) with the board's TVM arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Call = Callable[[list[Any]], Sequence[Any]]  # main(inputs..., states...) -> outputs..., states...


def invoke(call: Call, inputs: Sequence[Any], states: Sequence[Any]) -> tuple[list, list]:
    """One invocation: (outputs, new states)."""
    results = list(call([*inputs, *states]))
    split = len(results) - len(states)
    return results[:split], results[split:]


def invoke_steps(
    call: Call, steps: Sequence[Sequence[Any]], states: Sequence[Any]
) -> tuple[list[list], list]:
    """Invocations in sequence, each on its step's inputs and the states the previous one left:
    (the outputs of every step, the states after the last)."""
    outputs = []
    for inputs in steps:
        out, states = invoke(call, inputs, states)
        outputs.append(out)
    return outputs, list(states)
