"""Candidate builder: MetaSchedule's LocalBuilder work in worker processes kept across
batches, exporting with the board's toolchain."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvm.ir.utils import derived_object
from tvm.support.popen_pool import PopenPoolExecutor, StatusKind

from ..tvm_api import ms

if TYPE_CHECKING:
    from ..board import Board

# Builds per worker process before it is replaced: MetaSchedule's LocalBuilder starts new workers
# for every batch because long-lived ones leak memory; a fresh worker costs ~1-2 s of imports,
# paid once per 64 builds here instead of once per batch of 5-64.
BUILDS_PER_WORKER = 64
# A candidate's folder: the prefix, then the pid of the process whose builder made it (its
# measurement removes it; a tune killed outright leaves it, and the next builder removes it).
CANDIDATE_PREFIX = "edgetune-cand-"


@dataclass(frozen=True)
class ExportSharedLibrary:
    """Picklable `f_export` for the builder: link a candidate into a .so with a given compiler."""

    cc: str
    options: tuple[str, ...] = ()

    def __call__(self, mod) -> str:
        import tvm.support.cc as cc

        folder = tempfile.mkdtemp(prefix=f"{CANDIDATE_PREFIX}{os.getppid()}-")  # in a worker
        path = os.path.join(folder, "candidate.so")
        mod.export_library(path, fcompile=cc.cross_compiler(self.cc, options=list(self.options)))
        return path


def remove_orphaned_candidates(tmp: Path | None = None) -> int:
    """Remove the candidate folders of processes that are gone (killed before their candidates
    were measured); returns how many."""
    removed = 0
    for folder in Path(tmp or tempfile.gettempdir()).glob(f"{CANDIDATE_PREFIX}*-*"):
        pid = folder.name[len(CANDIDATE_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True


def build_candidate(mod, target, _params):
    """MetaSchedule's default_build without its `import tvm.s_tir.tensor_intrin`.

    A fresh worker process registering every tensor intrinsic took 10-40 s on 2 cores: most of
    the tuning time went there. Candidates arrive already tensorized (intrinsic bodies
    inlined), so building them needs no registry.
    """
    from ..lowering.pipeline import tir_pipeline
    from ..tvm_api import driver, s_tir

    mod = s_tir.transform.RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return driver.build(mod, target=target, pipeline=tir_pipeline())


def _build_and_export(f_build: Callable, f_export: Callable, mod: Any, target: Any) -> str:
    """In a worker process: the candidate built and exported, the artifact's path."""
    return f_export(f_build(mod, target, None))


@derived_object
class PooledBuilder(ms.builder.PyBuilder):
    """MetaSchedule's LocalBuilder with its worker processes kept from one batch to the next
    (each replaced after BUILDS_PER_WORKER builds, or when a build times out or crashes).

    `close()` ends the workers; until then they wait, idle, for the next batch.
    """

    def __init__(self, workers: int, timeout_s: float, f_build: Callable, f_export: Callable):
        super().__init__()
        remove_orphaned_candidates()
        self.workers = workers
        self.timeout_s = timeout_s
        self.f_build = f_build
        self.f_export = f_export
        self._pool: PopenPoolExecutor | None = None

    def build(self, build_inputs: list) -> list:
        if self._pool is None:
            self._pool = PopenPoolExecutor(
                max_workers=self.workers,
                timeout=self.timeout_s,
                maximum_process_uses=BUILDS_PER_WORKER,
            )
        jobs = [(self.f_build, self.f_export, b.mod, b.target) for b in build_inputs]
        results = []
        for done in self._pool.map_with_error_catching(lambda job: _build_and_export(*job), jobs):
            if done.status == StatusKind.COMPLETE:
                results.append(ms.builder.BuilderResult(done.value, None))
            elif done.status == StatusKind.TIMEOUT:
                message = f"build timed out: killed after {self.timeout_s:g} seconds"
                results.append(ms.builder.BuilderResult(None, message))
            else:
                message = f"build failed with an exception\n{done.value}"
                results.append(ms.builder.BuilderResult(None, message))
        return results

    def close(self) -> None:
        """End the worker processes (a later `build` starts new ones)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def pooled_builder(board: Board, f_build: Callable, f_export: Callable) -> PooledBuilder:
    """A PooledBuilder with the board's build workers (default: one per host core) and build
    timeout. The default 30 s of LocalBuilder kills builds on a busy 2-core machine while still
    spending trials, so the timeout comes from the board file (measure.build_timeout_s) or the
    command line."""
    workers = board.measure.build_workers or os.cpu_count() or 1
    return PooledBuilder(workers, board.measure.build_timeout_s, f_build, f_export)


def library_builder(board: Board) -> PooledBuilder:
    """Candidates built on the host and linked into a .so with the board's toolchain."""
    toolchain = board.toolchain()
    return pooled_builder(
        board, build_candidate, ExportSharedLibrary(toolchain.compiler(), toolchain.options)
    )
