"""Candidate builder: MetaSchedule's LocalBuilder, exporting with the board's toolchain."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..board import Board


@dataclass(frozen=True)
class ExportSharedLibrary:
    """Picklable `f_export` for LocalBuilder: link a candidate into a .so with a given compiler."""

    cc: str
    options: tuple[str, ...] = ()

    def __call__(self, mod) -> str:
        import tvm.support.cc as cc

        path = os.path.join(tempfile.mkdtemp(prefix="edgetune-cand-"), "candidate.so")
        mod.export_library(path, fcompile=cc.cross_compiler(self.cc, options=list(self.options)))
        return path


def build_candidate(mod, target, _params):
    """MetaSchedule's default_build without its `import tvm.s_tir.tensor_intrin`.

    LocalBuilder starts fresh worker processes for every batch, and registering every tensor
    intrinsic takes 10-40 s on 2 cores: most of the tuning time went there. Candidates arrive
    already tensorized (intrinsic bodies inlined), so building them needs no registry.
    """
    from ..quant.even_odd import tir_pipeline
    from ..tvm_api import driver, s_tir

    mod = s_tir.transform.RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
    return driver.build(mod, target=target, pipeline=tir_pipeline())


def library_builder(board: Board):
    """LocalBuilder with the board's build timeout and toolchain.

    The default 30 s timeout kills builds on a busy 2-core machine while still spending trials,
    so it comes from the board file (measure.build_timeout_s) or the command line.
    """
    from ..tvm_api import ms

    toolchain = board.toolchain()
    workers = board.measure.build_workers or os.cpu_count() or 1
    return ms.builder.LocalBuilder(
        max_workers=workers,
        timeout_sec=board.measure.build_timeout_s,
        f_build=build_candidate,
        f_export=ExportSharedLibrary(toolchain.compiler(), toolchain.options),
    )
