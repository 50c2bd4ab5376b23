"""The CPU rule sets' multi-level tiling: whole-vector output tiles where the output allows them.

MetaSchedule's MultiLevelTilingWideVector makes the innermost tile of the output's innermost
axis one full vector register. When that axis does not divide by the register (24 output
channels, 1000 classes, with 16 fp32 lanes) it still splits by the register, with a predicate on
the last partial vector; RewriteLayout then packs the weights through a flattened, misaligned
index map (`(k * 1000 + n) % 1008 // 112, ...`), and every weight load pays divisions and
modulos in the inner loop. On the host that made the 1280x1000 classifier 4.6x LiteRT's time.
Those blocks are tiled by MetaSchedule's plain MultiLevelTiling instead, whose perfect tiles
keep the packing aligned.
"""

from __future__ import annotations

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
        reuse = ms.schedule_rule.ReuseType(req="may", levels=[1, 2], scope="global")
        self.wide = ms.schedule_rule.MultiLevelTilingWideVector(
            structure=STRUCTURE,
            vector_length_in_bits=vector_bits,
            max_innermost_factor=max_innermost_factor,
            reuse_write=reuse,
        )
        self.perfect = ms.schedule_rule.MultiLevelTiling(
            structure=STRUCTURE,
            max_innermost_factor=max_innermost_factor,
            reuse_write=reuse,
        )

    def _initialize_with_tune_context(self, context) -> None:
        self.wide._initialize_with_tune_context(context)
        self.perfect._initialize_with_tune_context(context)

    def apply(self, sch, block):
        rule = self.wide if whole_vectors_fit(sch.get(block), self.vector_bits) else self.perfect
        return rule.apply(sch, block)

    def clone(self):
        return MultiLevelTilingWholeVector(self.vector_bits, self.max_innermost_factor)


def whole_vectors_fit(block, vector_bits: int) -> bool:
    """Whether the innermost axis of the block's output divides into whole vector registers."""
    if not block.writes:
        return False
    buffer = block.writes[0].source
    if not buffer.shape or not isinstance(buffer.shape[-1], tirx.IntImm):
        return False
    lanes = max(1, vector_bits // DataType(str(buffer.dtype)).bits)
    return buffer.shape[-1].value % lanes == 0
