"""Reductions over the outer axes of a channels-last tensor: split the pixels between threads.

Global average pooling and MEAN over H and W (squeeze-and-excite blocks, classifier heads) sum an
NHWC map over its pixels for each channel. MetaSchedule's CPU space parallelizes such a block
over its output channels and sums each channel's pixels one scalar at a time (AddRFactor's
variants put the reduction innermost, which cannot be vectorized): MediaPipe's selfie segmenter
pooled a 128x128x16 map in 59-73 us this way, ~7x slower than splitting the pixels between the
threads (rfactor) and adding whole vectors of channels (docs/performance.md, session 33). This
rule adds that sketch beside the others, for reduction blocks whose every read is contiguous in
the block's innermost spatial axis: P pixel chunks in parallel (P a multiple of the threads,
sampled), each summing its pixels over vectors of channels, then a P-way sum per channel.
"""

from __future__ import annotations

from typing import Any

from tvm.ir.utils import derived_object

from ..tvm_api import ms, tirx

CHUNKS_PER_THREAD = (1, 2, 4, 8)


@derived_object
class ChannelsLastReduction(ms.schedule_rule.PyScheduleRule):
    """The pixel-split sketch for channels-last reductions, beside the block's other sketches."""

    def __init__(self, threads: int, lanes: int, max_vector: int):
        super().__init__()
        self.threads, self.lanes, self.max_vector = threads, lanes, max_vector

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def apply(self, sch: Any, block: Any) -> list[Any]:
        extents = _reduction_nest(sch, block)
        if extents is None:
            return [sch]
        spatial, reduce = extents
        pixels = 1
        for extent in reduce:
            pixels *= extent
        chunks = [self.threads * k for k in CHUNKS_PER_THREAD if pixels >= 4 * self.threads * k]
        width = self._vector(spatial[-1])
        if not chunks or width is None:
            return [sch]
        split = sch.copy()
        loops = split.get_loops(block)
        n = len(spatial)
        fused = split.fuse(*loops[n:]) if len(reduce) > 1 else loops[n]
        count = split.sample_categorical(chunks, [1 / len(chunks)] * len(chunks))
        outer, _ = split.split(fused, [count, None])
        partial = split.rfactor(outer, factor_axis=0)
        loops = split.get_loops(partial)  # spatial..., outer (now spatial), inner
        order = [loops[n], *loops[: n - 1]]
        channel = loops[n - 1]
        if width < spatial[-1]:
            channel_outer, channel = split.split(channel, [None, width])
            order.append(channel_outer)
        split.reorder(*order, loops[-1], channel)
        split.parallel(order[0])
        split.vectorize(channel)
        return [sch, split]

    def _vector(self, channels: int) -> int | None:
        """The vectorized channel width: all of them up to max_vector, else the widest multiple
        of the lanes up to max_vector that divides them; None for fewer than lanes / 4."""
        if channels * 4 < self.lanes:
            return None
        if channels <= self.max_vector:
            return channels
        widths = range(self.max_vector, self.lanes - 1, -self.lanes)
        return next((w for w in widths if channels % w == 0), None)

    def clone(self) -> ChannelsLastReduction:
        return ChannelsLastReduction(self.threads, self.lanes, self.max_vector)


def _reduction_nest(sch: Any, block: Any) -> tuple[list[int], list[int]] | None:
    """(spatial extents, reduce extents) of an untransformed reduction block (one loop per
    iterator, spatial ones first) whose reads all index their innermost axis by the innermost
    spatial iterator alone; else None. Reads the IR through srefs: `get_loops` would add to the
    trace of every block's sketches, matched or not."""
    stmt = sch.get(block)
    extents = []
    parent = sch.get_sref(block).parent
    while parent is not None and isinstance(parent.stmt, tirx.For):
        extents.insert(0, parent.stmt.extent)
        parent = parent.parent
    kinds = [int(v.iter_type) for v in stmt.iter_vars]
    spatial_kind = int(tirx.IterVar.DataPar)
    n = kinds.count(spatial_kind)
    if (
        not 0 < n < len(kinds)
        or kinds[:n] != [spatial_kind] * n
        or any(k != int(tirx.IterVar.CommReduce) for k in kinds[n:])
        or len(extents) != len(kinds)
        or any(
            not isinstance(e, tirx.IntImm) or int(e) != int(v.dom.extent)
            for e, v in zip(extents, stmt.iter_vars)
        )
    ):
        return None
    channel = stmt.iter_vars[n - 1].var
    for region in stmt.reads:
        last = region.region[-1]
        if not (last.min.same_as(channel) and int(last.extent) == 1):
            return None
    sizes = [int(e) for e in extents]
    return sizes[:n], sizes[n:]
