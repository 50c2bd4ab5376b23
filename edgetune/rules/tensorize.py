"""Tensorize hooks for quantized int8 tasks: rules that map int8 dot products onto the
board's instructions (x86 AVX-512 VNNI, Arm NEON widening multiply-accumulate).

Owned by the int8 work; the board rule sets call these and add what they return. Which
instruction a target has, and the operands it needs (weights packed so one instruction's tile is
contiguous, uint8 activations for VNNI), is `edgetune.quant.operands`' business: the tasks
extracted for the board already have them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tvm.ir.utils import derived_object

from ..quant.intrinsics import register_intrinsics
from ..quant.operands import dot_products
from ..tvm_api import ms

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
    return [PackedOnly(intrin) for intrin in int8_intrinsics(board)]


def tensorize_postprocs(board: Board) -> list[Any]:
    """Postprocessors the tensorize rules need: RewriteTensorize replaces the tiled blocks."""
    if not int8_intrinsics(board):
        return []
    return [ms.postproc.RewriteTensorize(vectorize_init_loop=False)]


PACKED_RANK = 6  # weights packed for a dot product: [KH, KW, O/lanes, I/depth, lanes, depth]


@derived_object
class PackedOnly(ms.schedule_rule.PyScheduleRule):
    """An intrinsic's tiling rule for blocks that read weights packed for it (`quant.operands`);
    other blocks fall through to the next rules. The intrinsics load a weight tile as one
    contiguous vector: matched on a uint8 model's HWOI weights, they read the wrong bytes (up to
    255 LSB off, session 53)."""

    def __init__(self, intrin: str, context: Any = None):
        super().__init__()
        self.intrin = intrin
        self._rule: Any = None
        self._context = context  # the tune context, kept for the rule made later

    def _initialize_with_tune_context(self, context: Any) -> None:
        self._context = context
        if self._rule is not None:
            self._rule._initialize_with_tune_context(context)

    def apply(self, sch: Any, block: Any) -> list[Any]:
        if not any(len(r.source.shape) == PACKED_RANK for r in sch.get(block).reads):
            return [sch]
        return self._tiling().apply(sch, block)

    def clone(self) -> Any:
        return PackedOnly(self.intrin, self._context)

    def _tiling(self) -> Any:
        """MetaSchedule's tiling rule for the intrinsic, made at the first packed block: it
        needs the intrinsics registered (1.3 s a process), which a float model never does."""
        if self._rule is None:
            register_intrinsics()
            self._rule = ms.schedule_rule.MultiLevelTilingWithIntrin(
                self.intrin,
                structure="SSRSR",
                tile_binds=None,
                max_innermost_factor=64,
                vector_load_lens=None,
                reuse_read=None,
                reuse_write=ms.schedule_rule.ReuseType(req="may", levels=[1, 2], scope="global"),
            )
            if self._context is not None:
                self._rule._initialize_with_tune_context(self._context)
        return self._rule
