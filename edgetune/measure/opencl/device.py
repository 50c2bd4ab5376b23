"""Running an OpenCLProgram with pyopencl (PoCL here), timed with OpenCL profiling events.

PoCL runs kernels on the host CPU: times measured here rank kernels for PoCL on this machine,
not for a Mali GPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import BoardError, MissingPackage, ModelError
from ...farm.arguments import random_array
from .program import OpenCLProgram

if TYPE_CHECKING:
    from ...board import Board


def import_pyopencl() -> Any:
    """pyopencl, or MissingPackage naming the extra that installs it."""
    try:
        import pyopencl
    except ImportError:
        raise MissingPackage(
            "pyopencl is not installed: install edgetune's [opencl] extra (from a checkout: "
            "pip install -c constraints.txt -e '.[opencl]')"
        ) from None
    return pyopencl


def find_platform(name: str) -> Any:
    """The first OpenCL platform whose name contains `name`; BoardError if there is none."""
    found = import_pyopencl().get_platforms()
    platforms = [p for p in found if name.lower() in p.name.lower()]
    if not platforms:
        names = ", ".join(p.name for p in found) or "none"
        raise BoardError(
            f"no OpenCL platform matching '{name}' (found: {names}; Debian: apt-get install "
            "pocl-opencl-icd)"
        )
    return platforms[0]


def check_device(board: Board) -> None:
    """Before a tune: pyopencl installed and the board's OpenCL platform present (else every
    candidate's run would fail and use up the trial budget)."""
    find_platform(str(board.connection.extra.get("platform", "")))


@dataclass
class Device:
    """A pyopencl context + profiling queue on the first device of a matching platform."""

    platform: str = ""
    _ctx: Any = None
    _queue: Any = None
    _programs: dict[Any, Any] = field(default_factory=dict)  # programs, kernels, scratch

    def open(self) -> Device:
        cl = import_pyopencl()
        if self._ctx is None:
            device = find_platform(self.platform).get_devices()[0]
            self._ctx = cl.Context([device])
            props = cl.command_queue_properties.PROFILING_ENABLE
            self._queue = cl.CommandQueue(self._ctx, properties=props)
        return self

    @property
    def name(self) -> str:
        return self.open()._ctx.devices[0].name

    def compile(self, program: OpenCLProgram) -> Any:
        import pyopencl as cl

        key = program.source
        if key not in self._programs:
            built = cl.Program(self.open()._ctx, program.source)
            try:
                self._programs[key] = built.build()
            except cl.RuntimeError as err:  # named in one line: the compiler log's first error
                device = self._ctx.devices[0]
                log = built.get_build_info(device, cl.program_build_info.LOG) or str(err)
                first = next((ln for ln in log.splitlines() if "error" in ln), log.strip())
                names = ", ".join(k.name for k in program.kernels)
                raise ModelError(
                    f"OpenCL device {self.name} could not compile kernel {names}: {first.strip()}"
                ) from None
        return self._programs[key]

    def upload(self, array: np.ndarray) -> Any:
        import pyopencl as cl

        flags = cl.mem_flags.READ_WRITE | cl.mem_flags.COPY_HOST_PTR
        return cl.Buffer(self.open()._ctx, flags, hostbuf=np.ascontiguousarray(array))

    def empty(self, nbytes: int) -> Any:
        import pyopencl as cl

        return cl.Buffer(self.open()._ctx, cl.mem_flags.READ_WRITE, size=max(1, nbytes))

    def download(self, buffer: Any, shape: list[int], dtype: str) -> np.ndarray:
        import pyopencl as cl

        out = np.empty(shape, dtype=dtype)
        cl.enqueue_copy(self._queue, out, buffer).wait()
        return out

    def launch(self, program: OpenCLProgram, buffers: list[Any]) -> float:
        """Run every kernel of `program` once on `buffers` (one per parameter); seconds."""
        import pyopencl as cl

        built = self.compile(program)
        buffers = buffers + self._scratch(program)
        events = []
        for k in program.kernels:
            key = (program.source, k.name)
            if key not in self._programs:
                self._programs[key] = cl.Kernel(built, k.name)
            kernel = self._programs[key]
            kernel.set_args(*[buffers[i] for i in k.args])
            events.append(
                cl.enqueue_nd_range_kernel(self._queue, kernel, k.global_size, k.local_size)
            )
        events[-1].wait()
        return sum((e.profile.end - e.profile.start) * 1e-9 for e in events)

    def _scratch(self, program: OpenCLProgram) -> list[Any]:
        key = ("scratch", program.source)
        if key not in self._programs:
            self._programs[key] = [
                self.empty(int(np.prod(s["shape"])) * np.dtype(s["dtype"]).itemsize)
                for s in program.scratch
            ]
        return self._programs[key]

    def run(self, program: OpenCLProgram, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Run once on host arrays (one per parameter); returns every parameter's contents."""
        buffers = [self.upload(a) for a in arrays]
        self.launch(program, buffers)
        return [self.download(b, p["shape"], p["dtype"]) for b, p in zip(buffers, program.params)]

    def time(
        self, program: OpenCLProgram, buffers: list[Any], number: int, repeat: int, min_ms: float
    ) -> list[float]:
        """`repeat` means of `number` runs (more runs until a repeat lasts `min_ms`)."""
        self.launch(program, buffers)  # warm-up (and first-call compile)
        results = []
        for _ in range(repeat):
            total, runs = 0.0, 0
            while runs < number or total * 1e3 < min_ms:
                total += self.launch(program, buffers)
                runs += 1
            results.append(total / runs)
        return results


def random_arrays(program: OpenCLProgram, seed: int = 0) -> list[np.ndarray]:
    """Random inputs for every parameter (farm/arguments.py: integer indices zero)."""
    rng = np.random.default_rng(seed)
    return [random_array(p["dtype"], p["shape"], rng) for p in program.params]
