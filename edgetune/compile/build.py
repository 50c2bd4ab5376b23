"""Whole-model build with the best records applied, and export with the board's toolchain."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from .artifact import ArtifactMeta, write_artifact_meta
from .pipeline import lower_for_tuning

if TYPE_CHECKING:
    from ..board import Board
    from ..frontend import Model
    from ..records import RecordStore


def build_model(model: Model, board: Board, records: RecordStore | None) -> tuple[Any, int, int]:
    """Compile `model` for `board`. Returns (executable, tuned task count, total task count).

    Tasks with records use their best schedule; the others keep a correct untuned schedule
    (CPU) or MetaSchedule's dlight fallback (GPU).
    """
    from tvm.s_tir.meta_schedule.database import MemoryDatabase
    from tvm.s_tir.meta_schedule.relax_integration import compile_relax

    from ..tasks import MODULE_EQUALITY, extract_tasks

    board.check_toolchain()
    target = board.target()
    fused = lower_for_tuning(model.mod, target)
    tasks = extract_tasks(fused, target)
    database = records.database() if records else MemoryDatabase(module_equality=MODULE_EQUALITY)
    tuned = sum(1 for t in tasks if records and records.best_latency_s(t.mod) is not None)
    exe = compile_relax(database, fused, target, params=None)
    return exe, tuned, len(tasks)


def export_model(
    exe: Any, model: Model, board: Board, out: str | Path, tuned: int, total: int
) -> Path:
    """Link the executable into a shared library for the board and append its metadata."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    exe.export_library(str(out), fcompile=board.toolchain().fcompile())
    meta = ArtifactMeta(
        model=model.info,
        board=board.name,
        target=str(board.target()),
        tuned_tasks=tuned,
        total_tasks=total,
        edgetune_version=__version__,
        integer_kernels=bool(model.integer_ops),
    )
    write_artifact_meta(out, meta)
    return out
