"""Vectors that stay inside a broadcast operand's rows, for element-wise kernels.

MetaSchedule's RewriteParallelVectorizeUnroll fuses every loop of an element-wise block whose
accesses are all contiguous, counting a loop an operand does not read (a broadcast) as
contiguous too, then splits the fused loop by the root's `meta_schedule.vectorize` extent (64
floats on the host). When that extent does not divide the broadcast axis, each vector spans two
rows of the output and the broadcast operand's index wraps inside it: LLVM gathers it element by
element. A squeeze-and-excite scale (a 25x16x144 feature map times a 144-value gate) ran 39 us
for 57600 values, 1.5 G values/s (the EfficientNet of ewn_base_model: five such kernels, 18 % of
the model), and the search had nothing else to try (the kernel's space is one schedule).

`BroadcastVectors`, before RewriteParallelVectorizeUnroll, lowers the annotated extent of a
kernel without reductions that reads a broadcast operand to the largest one whose vectors hold
whole rows of its innermost loop (a divisor of the row, or a multiple: 64 lanes over rows of 16
read the gate as one repeated vector, measured faster than 16 lanes), a multiple of the vector
lanes when one fits: the broadcast operand is then read as a plain vector (or a scalar splat).
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object

from ..tvm_api import ms, tirx

VECTORIZE = "meta_schedule.vectorize"
MIN_WIDTH = 4  # below this, leave the extent: too few lanes to be worth a change


@derived_object
class BroadcastVectors(ms.postproc.PyPostproc):
    """Align the vectorized extent of broadcasting element-wise kernels to their rows.

    Whether a task can need it is decided once, from its unscheduled module (its blocks are all
    spatial and one reads a broadcast operand): the search applies postprocessors to thousands
    of candidates, and every other task (convs, reductions) passes through at once.
    """

    def __init__(self, lanes: int, active: bool = True):
        super().__init__()
        self.lanes = lanes
        self.active = active  # True until a tune context says otherwise

    def _initialize_with_tune_context(self, context) -> None:
        from ..tasks.lower import iter_blocks
        from ..tvm_api import s_tir

        blocks = [b for b in iter_blocks(context.mod["main"].body, s_tir) if b.iter_vars]
        self.active = _spatial(blocks) and any(_broadcasts(b) for b in blocks)

    def apply(self, sch) -> bool:
        if not self.active:
            return True
        root = sch.get_sblock("root", func_name="main")
        width = sch.get(root).annotations.get(VECTORIZE)
        if width is None:
            return True
        rows = []
        for child in sch.get_child_blocks(root):
            block = sch.get(child)
            if not _spatial([block]):
                return True  # a kernel with a reduction: its tiles own the extent
            loops = sch.get_loops(child)
            extent = sch.get(loops[-1]).extent if loops else None
            if _broadcasts(block) and isinstance(extent, tirx.IntImm):
                rows.append(int(extent))
        aligned = row_width(int(width), rows, self.lanes)
        if aligned != int(width):
            sch.unannotate(root, VECTORIZE)
            sch.annotate(root, VECTORIZE, aligned)
        return True

    def clone(self):
        return BroadcastVectors(self.lanes, self.active)


def row_width(width: int, rows: list[int], lanes: int) -> int:
    """The largest extent <= `width` whose vectors hold whole rows (it divides every row
    length, or is a multiple of it), preferring multiples of `lanes`; `width` itself when it
    already does or no such extent reaches MIN_WIDTH."""

    def whole_rows(w: int) -> bool:
        return all(row % w == 0 or w % row == 0 for row in rows)

    if whole_rows(width):
        return width
    fits = [w for w in range(width, 0, -1) if whole_rows(w)]
    best = ([w for w in fits if w % lanes == 0] or fits)[0]
    return best if best >= MIN_WIDTH else width


def _spatial(blocks: list[Any]) -> bool:
    """Whether the blocks have no reduction iterator."""
    return all(v.iter_type == tirx.IterVar.DataPar for b in blocks for v in b.iter_vars)


def _broadcasts(block: Any) -> bool:
    """Whether the block reads an operand indexed by some, not all, of the iterators it writes
    with (a scalar operand is splat whatever the vector's extent)."""
    written = _vars(block.writes)
    return any(0 < len(_vars([read]) & written) < len(written) for read in block.reads)


def _vars(regions: Any) -> set[str]:
    """Names of the variables the regions' indices use (a block's iterators are named apart)."""
    return {
        v.name
        for region in regions
        for r in region.region
        for v in tirx.analysis.undefined_vars(r.min)
    }
