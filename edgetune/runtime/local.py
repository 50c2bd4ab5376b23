"""Running an artifact in this process (the host board)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, first_line
from ..frontend import ModelInfo
from .artifact import ArtifactMeta, read_artifact_meta
from .probe import probe_load
from .states import invoke
from .timing import Latency, time_calls


def set_thread_count(cores: int) -> None:
    """Make TVM's runtime use `cores` threads in this process and the workers it starts.

    Without it TVM halves the CPU count on this 2-vCPU machine and measures at one thread.
    """
    os.environ["TVM_NUM_THREADS"] = str(cores)


@dataclass
class LoadedModel:
    """A built model loaded into a Relax VM (on the host, or on a board over RPC).

    A model with resource variables (`ModelInfo.states`) keeps them here, from their initial
    values (or the `states` given) on: each call carries them to the next (runtime/states.py).
    """

    meta: ArtifactMeta | None
    vm: Any
    device: Any
    info: ModelInfo | None = None
    states: list[np.ndarray] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.info is None and self.meta is not None:
            self.info = self.meta.model
        if self.info is not None and self.info.states and not self.states:
            self.states = self.info.initial_states()

    def __call__(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        outputs, self.states = invoke(self._main, inputs, self.states)
        return outputs

    def _main(self, args: list[np.ndarray]) -> list[np.ndarray]:
        # set_input/invoke_stateful/get_outputs: the way that also works over RPC (a tuple
        # returned by a remote call comes back as an opaque object)
        self.vm.set_input("main", *self.tensors(args))
        self.vm.invoke_stateful("main")
        return _to_numpy(self.vm.get_outputs("main"))

    def tensors(self, arrays: list[np.ndarray]) -> list[Any]:
        """`arrays` on the model's device."""
        import tvm

        return [tvm.runtime.tensor(x, self.device) for x in arrays]

    def bench(self, inputs: list[np.ndarray], repeat: int, min_seconds: float = 0.0) -> Latency:
        """Latency over `repeat` calls, more if they take less than `min_seconds` (states as
        they are now, not advanced)."""
        args = self.tensors([*inputs, *self.states])
        main = self.vm["main"]
        return time_calls(lambda: main(*args), repeat, min_seconds=min_seconds)


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
    """Load an artifact built for the host with its metadata (which states it carries); TVM
    uses `cores` threads."""
    return load_library(path, cores, read_artifact_meta(path))


def load_library(path: str | Path, cores: int, meta: ArtifactMeta | None = None) -> LoadedModel:
    """Load the library of an artifact built for the host (probe-loaded in a child process
    first: a library that crashes the loader ends the child, not edgetune); `meta` as read by
    the caller (None: the caller sets the states)."""
    import tvm

    probe_load(path)
    try:
        return load_executable(tvm.runtime.load_module(str(path)), cores, meta)
    except (AttributeError, RuntimeError) as err:  # loads, but holds no Relax VM executable
        first = first_line(err, type(err).__name__)
        raise InputError(
            f"{path}: not a model library built by `edgetune build` ({first})"
        ) from None
