"""The CPU rule sets' multi-level tiling: whole-vector output tiles where the output allows them.

MetaSchedule's MultiLevelTilingWideVector makes the innermost tile of the output's innermost
axis one full vector register. When that axis does not divide by the register (24 output
channels, 1000 classes, with 16 fp32 lanes) it still splits by the register, with a predicate on
the last partial vector; RewriteLayout then packs the weights through a flattened, misaligned
index map (`(k * 1000 + n) % 1008 // 112, ...`), and every weight load pays divisions and
modulos in the inner loop. On the host that made the 1280x1000 classifier 4.6x LiteRT's time.
Those blocks are tiled by MetaSchedule's plain MultiLevelTiling instead, whose perfect tiles
keep the packing aligned; except a float output axis of a few registers' width that divides by
half a register (24, 40 or 56 fp32 channels on AVX-512): its innermost tile is the whole axis,
which LLVM computes in full registers and one half register. Perfect tiles of 24 channels rarely
sample the whole axis, and the tuned 56x56 project conv to 24 channels computed 8 channels per
FMA, half a register (1.46x LiteRT's time for the layer, session 14).
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object
from tvm.runtime import DataType

from ..tvm_api import ms, tirx

STRUCTURE = "SSRSRS"


@derived_object
class MultiLevelTilingWholeVector(ms.schedule_rule.PyScheduleRule):
    """SSRSRS tiling with a cached write; the output's innermost tile is one vector register
    when its innermost axis divides by the register's lanes, perfect tiles otherwise."""

    def __init__(self, vector_bits: int, max_innermost_factor: int):
        super().__init__()
        self.vector_bits = vector_bits
        self.max_innermost_factor = max_innermost_factor
        self.context = None
        self.wide: dict[int, Any] = {}  # by the innermost tile's width in bits
        self.perfect = ms.schedule_rule.MultiLevelTiling(
            structure=STRUCTURE,
            max_innermost_factor=max_innermost_factor,
            reuse_write=_reuse(),
        )

    def _initialize_with_tune_context(self, context) -> None:
        self.context = context
        self.perfect._initialize_with_tune_context(context)
        for rule in self.wide.values():
            rule._initialize_with_tune_context(context)

    def _wide(self, bits: int) -> Any:
        if bits not in self.wide:
            rule = ms.schedule_rule.MultiLevelTilingWideVector(
                structure=STRUCTURE,
                vector_length_in_bits=bits,
                max_innermost_factor=self.max_innermost_factor,
                reuse_write=_reuse(),
            )
            if self.context is not None:
                rule._initialize_with_tune_context(self.context)
            self.wide[bits] = rule
        return self.wide[bits]

    def apply(self, sch, block):
        bits = output_tile_bits(sch.get(block), self.vector_bits, self.max_innermost_factor)
        rule = self.perfect if bits is None else self._wide(bits)
        return rule.apply(sch, block)

    def clone(self):
        return MultiLevelTilingWholeVector(self.vector_bits, self.max_innermost_factor)


def _reuse() -> Any:
    return ms.schedule_rule.ReuseType(req="may", levels=[1, 2], scope="global")


def output_tile_bits(block, vector_bits: int, max_innermost_factor: int) -> int | None:
    """Width in bits of the output's innermost tile: one vector register when the innermost
    axis divides into registers; the whole axis when it is a float axis of at most
    `max_innermost_factor` elements that divides into half registers; None (perfect tiles)
    otherwise."""
    if not block.writes:
        return None
    buffer = block.writes[0].source
    if not buffer.shape or not isinstance(buffer.shape[-1], tirx.IntImm):
        return None
    dtype = DataType(str(buffer.dtype))
    lanes, extent = max(1, vector_bits // dtype.bits), buffer.shape[-1].value
    if extent % lanes == 0:
        return vector_bits
    float_axis = str(dtype).startswith("float") and lanes < extent <= max_innermost_factor
    if float_axis and lanes > 2 and extent % (lanes // 2) == 0:
        return extent * dtype.bits
    return None
