"""CPU rule sets (`host`, `cortex-a53`): MetaSchedule's CPU rules sized from the board file.

Both follow Ansor's CPU sketch (inline, rfactor, SSRSRS multi-level tiling with a cached write and
the innermost output tile one full vector register, parallel/vectorize/unroll annotation, random
compute location), plus `broadcast_vectors.BroadcastVectors` (an element-wise kernel's vectors
inside its broadcast operand's rows) and `thread_split.ThreadSplit`: kernels with work for every
thread use all of them, and activation-bound ones split it by output rows, as consecutive
kernels then do; what differs is derived from `[hardware]`: the vector lanes (vector_bits / 32)
bound the innermost tile and the vectorized extent, and the cores (target num-cores) times
jobs-per-core bound the parallel extent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .rule_set import RuleSet, RuleSetParts

if TYPE_CHECKING:
    from ..board import Board


@dataclass(frozen=True)
class CpuProfile:
    """The knobs that differ between CPU boards."""

    jobs_per_core: int  # parallel extent limit = cores x jobs_per_core
    vector_multiple: int  # vectorized extent limit = lanes x vector_multiple
    unroll_steps: tuple[int, ...]
    innermost_tiles_per_lane: int  # max innermost tile = lanes x this


# Big out-of-order x86 cores with AVX-512: long vectors, deep unrolling pays off.
HOST = CpuProfile(
    jobs_per_core=16, vector_multiple=4, unroll_steps=(0, 16, 64, 512), innermost_tiles_per_lane=4
)
# In-order Cortex-A53: 128-bit NEON, small caches and a short issue window; TVM's ARM defaults
# (8 jobs per core, unroll 0/8/32/256) rather than the x86 ones.
CORTEX_A53 = CpuProfile(
    jobs_per_core=8, vector_multiple=8, unroll_steps=(0, 8, 32, 256), innermost_tiles_per_lane=8
)


def fp32_lanes(board: Board) -> int:
    return max(1, board.hardware.vector_bits // 32)


def cpu_parts(board: Board, profile: CpuProfile) -> RuleSetParts:
    """Schedule rules, postprocessors and mutators of a CPU board."""
    from ..tvm_api import ms
    from .broadcast_vectors import BroadcastVectors
    from .channels_last_reduction import ChannelsLastReduction
    from .thread_split import ThreadSplit

    lanes = fp32_lanes(board)
    innermost = lanes * profile.innermost_tiles_per_lane
    rules = [
        ms.schedule_rule.ApplyCustomRule(),
        ms.schedule_rule.InlineConstantScalars(),
        ms.schedule_rule.AutoInline(
            into_producer=False,
            into_consumer=True,
            inline_const_tensor=True,
            disallow_if_then_else=True,
            require_injective=True,
            require_ordered=True,
        ),
        ChannelsLastReduction(
            board.hardware.cores, lanes, max_vector=lanes * profile.vector_multiple
        ),
        ms.schedule_rule.AddRFactor(
            max_jobs_per_core=profile.jobs_per_core, max_innermost_factor=innermost
        ),
        _tiling(board, innermost),
        ms.schedule_rule.ParallelizeVectorizeUnroll(
            max_jobs_per_core=profile.jobs_per_core,
            max_vectorize_extent=lanes * profile.vector_multiple,
            unroll_max_steps=list(profile.unroll_steps),
            unroll_explicit=True,
        ),
        ms.schedule_rule.RandomComputeLocation(),
    ]
    postprocs = [
        ms.postproc.DisallowDynamicLoop(),
        BroadcastVectors(lanes),
        ms.postproc.RewriteParallelVectorizeUnroll(),
        ms.postproc.RewriteReductionBlock(),
        ms.postproc.RewriteLayout(),
        ThreadSplit(board.hardware.cores),
    ]
    mutators = {
        ms.mutator.MutateTileSize(): 0.9,
        ms.mutator.MutateComputeLocation(): 0.05,
        ms.mutator.MutateUnroll(): 0.03,
        ms.mutator.MutateParallel(max_jobs_per_core=profile.jobs_per_core): 0.02,
    }
    return RuleSetParts(rules, postprocs, mutators)


def _tiling(board: Board, innermost: int):
    """SSRSRS multi-level tiling with a cached write, the innermost tile of the output's
    innermost axis (output channels in NHWC) one full vector register when the axis divides by
    it: every sampled kernel computes whole vectors of outputs, so the search spends no trials
    on partial vectors (on the host, 48 trials found 1x1 convs 1.7-1.8x and a depthwise conv
    2.3x faster than with MetaSchedule's plain MultiLevelTiling; docs/performance.md). Other
    outputs get perfect tiles (`cpu_tiling`)."""
    from .cpu_tiling import MultiLevelTilingWholeVector

    return MultiLevelTilingWholeVector(board.hardware.vector_bits, innermost)


HOST_SET = RuleSet(
    "host",
    "x86-64 (AVX-512/VNNI): SSRSRS tiling, full-vector output tile, innermost tile <= 4x "
    "lanes, vectorize <= 4x lanes, parallel <= 16 jobs/core, unroll up to 512, VNNI int8 "
    "tensorize hooks",
    lambda board: cpu_parts(board, HOST),
)
CORTEX_A53_SET = RuleSet(
    "cortex-a53",
    "aarch64 Cortex-A53 (NEON 128-bit): SSRSRS tiling, full-vector output tile, vectorize "
    "<= 8x lanes, parallel <= 8 jobs/core, unroll up to 256, NEON int8 tensorize hooks",
    lambda board: cpu_parts(board, CORTEX_A53),
)
