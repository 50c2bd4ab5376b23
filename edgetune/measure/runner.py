"""Candidate runners by connection kind. `local` times candidates on this machine."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import BoardError

if TYPE_CHECKING:
    from ..board import Board

RunnerFactory = Callable[["Board"], Any]
_FACTORIES: dict[str, RunnerFactory] = {}
# Modules that register the runner of a connection kind when imported (kept lazy: the farm and
# OpenCL stacks are only loaded for boards that use them).
_PROVIDERS = {
    "rpc": "edgetune.farm.runner",
    "ssh": "edgetune.farm.runner",
    "opencl": "edgetune.measure.opencl",
}


def register_runner(kind: str, factory: RunnerFactory) -> None:
    """Register the runner factory for a connection kind (rpc, ssh, opencl, ...)."""
    _FACTORIES[kind] = factory


def set_thread_count(cores: int) -> None:
    """Make TVM's runtime use `cores` threads in this process and the workers it starts.

    Without it TVM halves the CPU count on this 2-vCPU machine and measures at one thread.
    """
    os.environ["TVM_NUM_THREADS"] = str(cores)


def _local_runner(board: Board):
    from tvm.s_tir.meta_schedule.runner import LocalRunner

    set_thread_count(board.hardware.cores)
    return LocalRunner(
        timeout_sec=board.measure.run_timeout_s,
        evaluator_config=board.measure.evaluator(),
    )


register_runner("local", _local_runner)


def make_runner(board: Board):
    """The MetaSchedule Runner that times candidates on `board`."""
    kind = board.connection.kind
    if kind not in _FACTORIES and kind in _PROVIDERS:
        import importlib

        importlib.import_module(_PROVIDERS[kind])
    if kind not in _FACTORIES:
        raise BoardError(f"board '{board.name}': no runner for connection kind '{kind}'")
    return _FACTORIES[kind](board)
