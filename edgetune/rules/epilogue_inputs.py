"""Inline what a fused epilogue reads besides its anchor, so tiling can move the epilogue.

A residual add whose other input is padded to more channels (BlazeFace's and BlazePalm's blocks:
a 24-channel input added to a 28-channel conv output) becomes one kernel with three blocks: the
conv, a `PadInput` of the residual input (an if-then-else on the channel), and the epilogue
reading both. The rule sets' AutoInline leaves if-then-else blocks alone (padding inlined into a
conv's input would put a branch in its innermost loop), so the pad stays a loop nest of its own,
placed after the conv. MultiLevelTiling then moves the epilogue under the conv's tiles
(`reverse_compute_at`), which needs every producer of the epilogue computed before those tiles,
and fails the whole task's space generation ("the primitive requires all the producer(s) of the
given block to be present under the target loop"). Inlining the epilogue's other injective
producers into it first costs one select per output element, outside the reduction.
"""

from __future__ import annotations

from tvm.ir.utils import derived_object

from ..tasks.lower import is_reduction
from ..tvm_api import ms, s_tir


@derived_object
class InlineEpilogueInputs(ms.schedule_rule.PyScheduleRule):
    """For a block with a reduction: inline, into each of its consumers, the consumer's other
    producers that can be inlined (injective, read by that consumer alone)."""

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def apply(self, sch, block):
        if not is_reduction(sch.get(block)):
            return [sch]
        anchor = sch.get(block)
        for consumer in sch.get_consumers(block):
            for producer in sch.get_producers(consumer):
                if sch.get(producer).same_as(anchor) or is_reduction(sch.get(producer)):
                    continue
                try:
                    sch.compute_inline(producer)
                except s_tir.ScheduleError:  # not inlinable: left as it is
                    continue
        return [sch]

    def clone(self):
        return InlineEpilogueInputs()
