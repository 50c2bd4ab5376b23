"""Backends: how a board's connection kind builds, measures and runs.

One `Backend` per connection kind, chosen in one place (`backend(board)`): the MetaSchedule
Builder and Runner that measure candidates, how a built model runs there, and what a whole-model
build writes beside the library. `local` (the host, measured natively) is defined here; the farm
(`rpc`, `ssh`) and pyopencl (`opencl`) register theirs when first needed.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import BoardError
from .builder import library_builder

if TYPE_CHECKING:
    from ..board import Board
    from ..runtime.timing import Latency

RunArtifact = Callable[["Board", Path, list[np.ndarray], int], tuple[list[np.ndarray], "Latency"]]


@dataclass(frozen=True)
class Backend:
    """What differs between connection kinds.

    runner(board): MetaSchedule Runner timing candidates on the board.
    builder(board): MetaSchedule Builder (default: LocalBuilder linking a .so with the board's
        toolchain).
    run_artifact(board, path, inputs, repeat): outputs and latency of a built model there.
    after_build(model, board, records, artifact): writes what the board needs beside the
        library (None: nothing); returns a line for the user.
    """

    runner: Callable[[Board], Any]
    run_artifact: RunArtifact
    builder: Callable[[Board], Any] = library_builder
    after_build: Callable[..., str] | None = None


_BACKENDS: dict[str, Backend] = {}
# Modules that register the backend of a connection kind when imported (kept lazy: the farm and
# OpenCL stacks are only loaded for boards that use them).
_PROVIDERS = {
    "rpc": "edgetune.farm.runner",
    "ssh": "edgetune.farm.runner",
    "opencl": "edgetune.measure.opencl",
}


def register_backend(kind: str, backend: Backend) -> None:
    """Register the backend of a connection kind (rpc, ssh, opencl, ...)."""
    _BACKENDS[kind] = backend


def backend(board: Board) -> Backend:
    """The backend of `board`'s connection kind."""
    kind = board.connection.kind
    if kind not in _BACKENDS and kind in _PROVIDERS:
        importlib.import_module(_PROVIDERS[kind])
    if kind not in _BACKENDS:
        raise BoardError(f"board '{board.name}': no backend for connection kind '{kind}'")
    return _BACKENDS[kind]


def make_builder(board: Board):
    """The MetaSchedule Builder for candidates of `board`."""
    return backend(board).builder(board)


def make_runner(board: Board):
    """The MetaSchedule Runner that times candidates on `board`."""
    return backend(board).runner(board)


def _local_runner(board: Board):
    from tvm.s_tir.meta_schedule.runner import LocalRunner

    from ..runtime.local import set_thread_count

    set_thread_count(board.hardware.cores)
    return LocalRunner(
        timeout_sec=board.measure.run_timeout_s,
        evaluator_config=board.measure.evaluator(),
    )


def _run_local(board: Board, path: Path, inputs: list[np.ndarray], repeat: int):
    from ..runtime import load_artifact

    loaded = load_artifact(path, board.hardware.cores)
    return loaded(inputs), loaded.bench(inputs, repeat)


register_backend("local", Backend(runner=_local_runner, run_artifact=_run_local))
