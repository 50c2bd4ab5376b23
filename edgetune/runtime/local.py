"""Running an artifact in this process (the host board)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .artifact import ArtifactMeta, read_artifact_meta
from .timing import Latency, time_calls


def set_thread_count(cores: int) -> None:
    """Make TVM's runtime use `cores` threads in this process and the workers it starts.

    Without it TVM halves the CPU count on this 2-vCPU machine and measures at one thread.
    """
    os.environ["TVM_NUM_THREADS"] = str(cores)


@dataclass
class LoadedModel:
    """A built model loaded into a Relax VM on the host."""

    meta: ArtifactMeta | None
    vm: Any
    device: Any

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        import tvm

        args = [tvm.runtime.tensor(x, self.device) for x in inputs]
        return _to_numpy(self.vm["main"](*args))

    def bench(self, inputs: list[np.ndarray], repeat: int) -> Latency:
        import tvm

        args = [tvm.runtime.tensor(x, self.device) for x in inputs]
        main = self.vm["main"]
        return time_calls(lambda: main(*args), repeat)


def _to_numpy(result: Any) -> list[np.ndarray]:
    if hasattr(result, "numpy"):
        return [result.numpy()]
    return [r.numpy() for r in result]


def load_executable(exe: Any, cores: int, meta: ArtifactMeta | None = None) -> LoadedModel:
    """A freshly built executable (or loaded library) in a VM on the host CPU."""
    set_thread_count(cores)
    import tvm
    from tvm import relax

    device = tvm.cpu()
    return LoadedModel(meta=meta, vm=relax.VirtualMachine(exe, device), device=device)


def load_artifact(path: str | Path, cores: int) -> LoadedModel:
    """Load an artifact built for the host; TVM uses `cores` threads."""
    import tvm

    meta = read_artifact_meta(path)
    return load_executable(tvm.runtime.load_module(str(path)), cores, meta)
