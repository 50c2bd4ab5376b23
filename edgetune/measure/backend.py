"""Backends: how a board's connection kind builds, measures and runs.

One `Backend` per connection kind, chosen in one place (`backend(board)`): the MetaSchedule
Builder and Runner that measure candidates, how a built model runs there, and what a whole-model
build writes beside the library. The registry is the plug-in point: a new connection kind joins
with `register_backend(kind, Backend(...))`. `local` (the host, measured natively) is defined
here; the farm's (`rpc`, `ssh`: `farm_runners`) and pyopencl's (`opencl`) are built in and
loaded when a board first needs them (their stacks are heavy).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..board.toolchain import host_arch
from ..errors import BoardError
from .builder import library_builder

if TYPE_CHECKING:
    from ..board import Board
    from ..runtime.result import RunResult, RunSteps


@dataclass(frozen=True)
class Backend:
    """What differs between connection kinds.

    runner(board): MetaSchedule Runner timing candidates on the board.
    builder(board): MetaSchedule Builder with a `close()` that ends its workers (default: a
        PooledBuilder linking a .so with the board's toolchain).
    run_artifact(board, path, steps, states, repeat): a built model run there on each step's
        inputs in sequence (its states carried from one to the next, from the initial
        `states`): each step's outputs, and the latency of `repeat` runs of the last step
        (None: DEFAULT_CALLS; the host's, as many more as fill MIN_TIMED_S: runtime.timing).
    after_build(model_tasks, database, artifact): writes what the board needs beside the
        library, from the lowered model and the records applied (None: nothing); returns a line
        for the user.
    reachable(board): BoardError unless the board can take candidates now (None: always).
    """

    runner: Callable[[Board], Any]
    run_artifact: RunSteps
    builder: Callable[[Board], Any] = library_builder
    after_build: Callable[..., str] | None = None
    reachable: Callable[[Board], None] | None = None


_BACKENDS: dict[str, Backend] = {}


def register_backend(kind: str, backend: Backend) -> None:
    """Register the backend of a connection kind (rpc, ssh, opencl, ...)."""
    _BACKENDS[kind] = backend


def backend(board: Board) -> Backend:
    """The backend of `board`'s connection kind."""
    kind = board.connection.kind
    if kind not in _BACKENDS:
        _load_builtin(kind)
    if kind not in _BACKENDS:
        raise BoardError(f"board '{board.name}': no backend for connection kind '{kind}'")
    return _BACKENDS[kind]


def _load_builtin(kind: str) -> None:
    """Import the built-in module that registers `kind`'s backend (if edgetune has one)."""
    if kind in ("rpc", "ssh"):
        from . import farm_runners  # noqa: F401
    elif kind == "opencl":
        from . import opencl  # noqa: F401


def run_artifact(
    board: Board,
    path: str | Path,
    input_paths: list[str] | None,
    repeat: int | None,
    steps: int | None = None,
) -> RunResult:
    """Run an artifact built for `board` there (here, on a farm board, or through OpenCL) on
    the inputs (.npy paths; random if None) of `steps` invocations in sequence (None: what the
    files hold, else 1): each one's outputs, and the latency of `repeat` runs of the last (None:
    the backend's default). On the host board the result also says how much CPU time the
    hypervisor and other processes took meanwhile."""
    from ..runtime.result import run_steps_on
    from .free_cores import ContentionWatch, contention_notes

    host = board.is_host  # timed here: say how contended
    watch = ContentionWatch.start() if host else None
    result = run_steps_on(board, path, input_paths, steps, repeat, backend(board).run_artifact)
    if watch is not None:
        share, others = watch.read()
        result.details["host_steal"], result.details["others_cores"] = share, others
        notes = [result.timing_note] if result.timing_note else []
        result.timing_note = "; ".join(notes + contention_notes(share, others))
    return result


def make_builder(board: Board):
    """The MetaSchedule Builder for candidates of `board`."""
    return backend(board).builder(board)


def make_runner(board: Board, inner: Any = None):
    """The MetaSchedule Runner that times candidates on `board` (through `inner`, a runner of
    `backend(board)`, if given), each candidate's repeats reduced to their fastest quarter
    (robust to foreign work on the host: `robust.py`)."""
    from .robust import FastestRepeatsRunner

    return FastestRepeatsRunner(inner or backend(board).runner(board))


class Measurers:
    """A board's Builder and Runner (every repeat), each made at its first use and kept until
    `close()`: a tune's search and final phase share them, so their worker processes start
    once (a runner's ~0.8 s, builders' 1-2 s on the host)."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self._builder: Any = None
        self._runner: Any = None

    @property
    def builder(self) -> Any:
        if self._builder is None:
            self._builder = make_builder(self.board)
        return self._builder

    @property
    def runner(self) -> Any:
        if self._runner is None:
            self._runner = backend(self.board).runner(self.board)
        return self._runner

    def close(self) -> None:
        """End the builder's workers."""
        if self._builder is not None:
            self._builder.close()
            self._builder = None


def _local_runner(board: Board):
    """Times each batch on the cores other processes leave free (free_cores.py)."""
    from ..runtime.local import set_thread_count
    from .free_cores import FreeCoresRunner

    set_thread_count(board.hardware.cores)
    return FreeCoresRunner(
        board.hardware.cores, board.measure.run_timeout_s, board.measure.evaluator()
    )


def _run_local(
    board: Board,
    path: Path,
    steps: list[list[np.ndarray]],
    states: list[np.ndarray],
    repeat: int | None,
):
    from ..runtime import load_library
    from ..runtime.timing import calls_and_fill
    from .timing_turn import timing_turn

    _runs_here(board)
    loaded = load_library(path, board.hardware.cores)  # its metadata read by run_steps_on
    loaded.states = states
    with timing_turn():  # no edgetune process (a tune's batch) times on this host meanwhile
        outputs = [loaded(inputs) for inputs in steps]
        return outputs, loaded.bench(steps[-1], *calls_and_fill(repeat))


def _runs_here(board: Board) -> None:
    """BoardError unless this machine runs `board`'s code: a cross-compiling board file whose
    [connection] is missing (local) had every candidate fail to load, and `run` blame a
    missing file."""
    if not board.runs_here:
        raise BoardError(
            f"board '{board.name}' targets {board.arch}, and its connection is local (this "
            f"{host_arch()} machine): add a [connection] (rpc or ssh, docs/farm.md) to time or "
            "run on the board; `build` needs none"
        )


register_backend(
    "local", Backend(runner=_local_runner, run_artifact=_run_local, reachable=_runs_here)
)
