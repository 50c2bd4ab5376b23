"""Running an artifact in this process (the host board)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..frontend import ModelInfo
from .artifact import ArtifactMeta, read_artifact_meta
from .probe import probe_load
from .timing import Latency, time_calls


def set_thread_count(cores: int) -> None:
    """Make TVM's runtime use `cores` threads in this process and the workers it starts.

    Without it TVM halves the CPU count on this 2-vCPU machine and measures at one thread.
    """
    os.environ["TVM_NUM_THREADS"] = str(cores)


@dataclass
class LoadedModel:
    """A built model loaded into a Relax VM on the host.

    A model with resource variables (`ModelInfo.states`) keeps them here: each call passes the
    current states after the inputs and keeps the new ones it returns after the outputs.
    """

    meta: ArtifactMeta | None
    vm: Any
    device: Any
    info: ModelInfo | None = None
    states: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.info is None and self.meta is not None:
            self.info = self.meta.model
        if self.info is not None and self.info.states:
            self.states = self.info.initial_states()

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        import tvm

        args = [tvm.runtime.tensor(x, self.device) for x in [*inputs, *self.states]]
        results = _to_numpy(self.vm["main"](*args))
        if not self.states:
            return results
        n_out = len(results) - len(self.states)
        self.states = results[n_out:]
        return results[:n_out]

    def bench(self, inputs: list[np.ndarray], repeat: int) -> Latency:
        """Latency over `repeat` calls (states as they are now, not advanced)."""
        import tvm

        args = [tvm.runtime.tensor(x, self.device) for x in [*inputs, *self.states]]
        main = self.vm["main"]
        return time_calls(lambda: main(*args), repeat)


def _to_numpy(result: Any) -> list[np.ndarray]:
    if hasattr(result, "numpy"):
        return [result.numpy()]
    return [r.numpy() for r in result]


def load_executable(
    exe: Any, cores: int, meta: ArtifactMeta | None = None, info: ModelInfo | None = None
) -> LoadedModel:
    """A freshly built executable (or loaded library) in a VM on the host CPU; the model's
    `info` (or the artifact's `meta`) says which states it carries."""
    set_thread_count(cores)
    import tvm
    from tvm import relax

    device = tvm.cpu()
    vm = relax.VirtualMachine(exe, device)
    return LoadedModel(meta=meta, vm=vm, device=device, info=info)


def load_artifact(path: str | Path, cores: int) -> LoadedModel:
    """Load an artifact built for the host (probe-loaded in a child process first: a library
    that crashes the loader ends the child, not edgetune); TVM uses `cores` threads."""
    import tvm

    meta = read_artifact_meta(path)
    probe_load(path)
    try:
        return load_executable(tvm.runtime.load_module(str(path)), cores, meta)
    except (AttributeError, RuntimeError) as err:  # loads, but holds no Relax VM executable
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise InputError(
            f"{path}: not a model library built by `edgetune build` ({first})"
        ) from None
