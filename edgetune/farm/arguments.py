"""The arguments candidates are timed on: random data, except 32- and 64-bit integer tensors,
which are zero.

Such a tensor may hold indices into another (the frame table of a spectrogram's gather, the
component of a complex tensor): random values there read out of bounds, and TVM's `take` in
fast mode does not check them, so the timing process crashes. Zero is in range of any axis; a
bias or a per-channel multiplier being zero changes no kernel's time (none branches on data).
Board-side code that cannot import edgetune (farm/agent.py) follows the same rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

INDEX_DTYPES = ("int32", "int64")


def random_array(dtype: str, shape: Any, rng: np.random.Generator) -> np.ndarray:
    """One argument: floats uniform in [-1, 1], index-wide integers zero, others small."""
    if np.dtype(dtype).kind == "f":
        return rng.uniform(-1, 1, shape).astype(dtype)
    if str(dtype) in INDEX_DTYPES:
        return np.zeros(shape, dtype)
    return rng.integers(-8, 8, shape).astype(dtype)


def zero_indices(repeated_args: list[list[Any]]) -> list[list[Any]]:
    """`repeated_args` (TVM tensors, local or remote) with their index-wide integers zeroed."""
    for args in repeated_args:
        for arg in args:
            if str(arg.dtype) in INDEX_DTYPES:
                arg.copyfrom(np.zeros(tuple(arg.shape), str(arg.dtype)))
    return repeated_args


def alloc_arguments(device: Any, args_info: Any, alloc_repeat: int) -> list[list[Any]]:
    """LocalRunner's `f_alloc_argument`: MetaSchedule's random fill, index-wide integers zero."""
    from ..tvm_api import ms

    default = ms.runner.local_runner.default_alloc_argument
    return zero_indices(default(device, args_info, alloc_repeat))
