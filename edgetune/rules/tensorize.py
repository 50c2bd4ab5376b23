"""Tensorize hooks for quantized int8 tasks: rules that map int8 dot products onto the
board's instructions (x86 AVX-512 VNNI, Arm NEON widening multiply-accumulate).

Owned by the int8 work; the board rule sets call these and add what they return. Which
instruction a target has, and the operands it needs (weights packed so one instruction's tile is
contiguous, uint8 activations for VNNI), is `edgetune.quant.operands`' business: the tasks
extracted for the board already have them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..quant.intrinsics import register_intrinsics
from ..quant.operands import dot_products

if TYPE_CHECKING:
    from ..board import Board


def int8_intrinsics(board: Board) -> list[str]:
    """The dot-product intrinsics for int8 tasks on this board's target, widest first."""
    return [dot.intrin for dot in dot_products(board.target())]


def tensorize_rules(board: Board) -> list[Any]:
    """Schedule rules that tensorize int8 reductions on this board (empty: none), one per
    instruction width.

    Put them before the generic MultiLevelTiling: blocks that match an intrinsic are tiled
    around it, everything else falls through to the generic rules.
    """
    from ..tvm_api import ms

    intrinsics = int8_intrinsics(board)
    if intrinsics:
        register_intrinsics()
    return [
        ms.schedule_rule.MultiLevelTilingWithIntrin(
            intrin,
            structure="SSRSR",
            tile_binds=None,
            max_innermost_factor=64,
            vector_load_lens=None,
            reuse_read=None,
            reuse_write=ms.schedule_rule.ReuseType(req="may", levels=[1, 2], scope="global"),
        )
        for intrin in intrinsics
    ]


def tensorize_postprocs(board: Board) -> list[Any]:
    """Postprocessors the tensorize rules need: RewriteTensorize replaces the tiled blocks."""
    from ..tvm_api import ms

    if not int8_intrinsics(board):
        return []
    return [ms.postproc.RewriteTensorize(vectorize_init_loop=False)]
