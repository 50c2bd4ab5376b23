"""The `mali` rule set: Ansor's Mali choices (apache/tvm PR 7132) on MetaSchedule.

TVM 0.27 gives every OpenCL target the CUDA rules, which stage operands in shared (`__local`)
memory and use cross-thread reductions. Mali GPUs have no dedicated shared memory (`__local` is
ordinary cached RAM) and wide per-thread vector ALUs, so this set instead:

- tiles with SSRSRS, the innermost spatial tile fixed to the vector width
  (MultiLevelTilingWideVector), and binds the two outer spatial tile levels to work-groups and
  work-items (`BindTileLevels`); the work-item's register tile is bounded (`LimitRegisterTile`);
- caches the output in registers (`local` cache write), never the inputs in `__local`;
- adds no cross-thread reduction;
- vectorizes the innermost loop of every work-item to the vector width (`VectorizeInnermost`),
  which OpenCL codegen emits as float4 / char4 ... arithmetic, loads and stores;
- unrolls (explicit unroll steps) and binds leftover loops within the board's work-group limit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .rule_set import RuleSet, RuleSetParts

if TYPE_CHECKING:
    from ..board import Board

UNROLL_STEPS = [0, 16, 64, 512]
MAX_WORK_GROUPS = 256  # AutoBind / RewriteUnboundBlock limit for loops the tiling leaves
# Per work-item output tile kept in registers: Bifrost/Valhall cores have 64
# 32-bit registers per thread at full occupancy; 128 allows half-occupancy tiles.
REGISTER_TILE_SCALARS = 128


def mali_parts(board: Board) -> RuleSetParts:
    """Schedule rules, postprocessors and mutators of a Mali (OpenCL) board."""
    from ..tvm_api import ms
    from .vector_rules import BindTileLevels, LimitRegisterTile, VectorizeInnermost

    bits = board.hardware.vector_bits
    max_threads = board.hardware.max_threads_per_block
    rules = [
        ms.schedule_rule.ApplyCustomRule(),
        BindTileLevels(bits),
        ms.schedule_rule.InlineConstantScalars(),
        ms.schedule_rule.AutoInline(
            into_producer=True,
            into_consumer=True,
            inline_const_tensor=True,
            disallow_if_then_else=False,
            require_injective=False,
            require_ordered=False,
        ),
        ms.schedule_rule.ParallelizeVectorizeUnroll(
            max_jobs_per_core=-1,
            max_vectorize_extent=-1,
            unroll_max_steps=UNROLL_STEPS,
            unroll_explicit=True,
        ),
        ms.schedule_rule.AutoBind(
            max_threadblocks=MAX_WORK_GROUPS,
            thread_extents=[t for t in (32, 64, 128, 256, 512, 1024) if t <= max_threads],
            max_threads_per_block=max_threads,
        ),
    ]
    postprocs = [
        LimitRegisterTile(REGISTER_TILE_SCALARS),  # first: cheap rejection
        ms.postproc.DisallowDynamicLoop(),
        ms.postproc.RewriteUnboundBlock(max_threadblocks=MAX_WORK_GROUPS),
        ms.postproc.RewriteParallelVectorizeUnroll(),
        VectorizeInnermost(bits),  # before the init/update split: vectorize needs the init
        ms.postproc.RewriteReductionBlock(),
        ms.postproc.VerifyGPUCode(),
    ]
    mutators = {
        ms.mutator.MutateTileSize(): 0.9,
        ms.mutator.MutateUnroll(): 0.08,
        ms.mutator.MutateThreadBinding(): 0.02,
    }
    return RuleSetParts(rules, postprocs, mutators)


MALI_SET = RuleSet(
    "mali",
    "Mali GPU (OpenCL), Ansor's Mali sketch: SSRSRS tiling bound to work-groups/work-items, "
    "register cache write, no __local staging, no cross-thread reduction, innermost loop "
    "vectorized to the vector width (float4/char4), explicit unroll, work-group size limit "
    "from the board",
    mali_parts,
)
