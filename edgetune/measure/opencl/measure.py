"""MetaSchedule builder and runner for OpenCL boards measured through pyopencl.

The builder lowers each candidate to an OpenCLProgram (JSON artifact) instead of a shared
library; the runner times it on the board's OpenCL platform in a worker process (timeout and
crash isolation as with LocalRunner). On PoCL the times rank kernels for PoCL on this CPU, not
for a Mali GPU.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tvm.ir.utils import derived_object

from ...tvm_api import ms
from ..builder import PooledBuilder, pooled_builder
from .device import Device, random_arrays
from .program import OpenCLProgram, lower_opencl

if TYPE_CHECKING:
    from ...board import Board


def build_program(mod: Any, target: Any, params: Any) -> OpenCLProgram:
    """Builder `f_build`: lower the candidate to an OpenCL program."""
    del params
    return lower_opencl(mod, target)


def export_program(program: OpenCLProgram) -> str:
    """Builder `f_export`: write the program as the candidate's artifact."""
    return str(program.save(os.path.join(tempfile.mkdtemp(prefix="edgetune-cl-"), "cand.json")))


def make_opencl_builder(board: Board) -> PooledBuilder:
    return pooled_builder(board, build_program, export_program)


_DEVICE: Device | None = None  # one per runner worker process


def _time_artifact(platform: str, path: str, number: int, repeat: int, min_ms: float):
    global _DEVICE
    if _DEVICE is None:
        _DEVICE = Device(platform).open()
    program = OpenCLProgram.load(path)
    buffers = [_DEVICE.upload(a) for a in random_arrays(program)]
    return _DEVICE.time(program, buffers, number, repeat, min_ms)


@dataclass(frozen=True)
class _Settings:
    platform: str
    timeout_s: float
    number: int
    repeat: int
    min_ms: float


@derived_object
class OpenCLRunner(ms.runner.PyRunner):
    """Times OpenCLProgram artifacts with OpenCL profiling events in a worker process."""

    def __init__(self, settings: _Settings):
        from tvm.support.popen_pool import PopenPoolExecutor

        super().__init__()
        self.settings = settings
        self.pool = PopenPoolExecutor(max_workers=1, timeout=settings.timeout_s)

    def run(self, runner_inputs):
        s = self.settings
        futures = []
        for inp in runner_inputs:
            args = (s.platform, str(inp.artifact_path), s.number, s.repeat, s.min_ms)
            try:
                secs = self.pool.submit(_time_artifact, *args).result()
                futures.append(ms.runner.local_runner.LocalRunnerFuture(res=secs))
            except TimeoutError:
                msg = f"OpenCLRunner: timeout after {s.timeout_s} s"
                futures.append(ms.runner.local_runner.LocalRunnerFuture(error_message=msg))
            except Exception as err:  # noqa: BLE001 - a failed candidate, recorded as such
                futures.append(
                    ms.runner.local_runner.LocalRunnerFuture(error_message=f"OpenCLRunner: {err}")
                )
        return futures


def make_opencl_runner(board: Board) -> OpenCLRunner:
    m = board.measure
    platform = str(board.connection.extra.get("platform", ""))
    return OpenCLRunner(_Settings(platform, m.run_timeout_s, m.number, m.repeat, m.min_repeat_ms))
