"""How a CPU kernel's work is split between the board's threads: all of them, and by rows.

Every kernel with work for every thread (at least MIN_OUTPUTS_PER_THREAD outputs each) must
split it over all threads: a parallel loop of at least `threads` iterations above its output.
On a quiet machine the search never prefers one thread for such a kernel; on a busy one it
does: with another process spinning on one of the two cores, every two-thread candidate waits
for that core, and the tuner picked single-threaded schedules for 30 of MobileNetV2's 32 fp32
tasks. Built from those records the model ran 3.2x LiteRT's latency on the quiet machine
(docs/performance.md, session 8).

Row bands: each thread of an activation-bound kernel computes a band of output rows.

A tuned kernel's parallel loop is split into one contiguous chunk per thread (TVM's static
parallel launch). Which output elements a chunk holds depends on the tiles the search drew: rows,
columns or channels. Timed alone, any split is fine: every repeat gives each thread the same
elements, so each core finds its part of the input and output in its own cache. Inside the model
the input was written by the previous kernel: when that kernel split by channels and this one by
columns, each thread reads half of its input from the other core's cache, and a layer whose
activations outweigh its weights (the depthwise convs, the convs at 112x112 to 14x14) pays for
it. MobileNetV2 fp32 on the host ran at LiteRT's latency on one thread but 1.07-1.09x on two
(docs/performance.md). XNNPACK splits such layers by output pixels.

`ThreadSplit` rejects candidates of such a float kernel (NHWC output, activation bytes >= weight
bytes) whose threads do not each own a band of output rows, so that consecutive kernels split
the same way. Kernels whose weights outweigh their activations (7x7 layers, the classifier) keep any
split: there a thread's share of the weights matters more. Integer kernels are left free too:
their activations take a quarter of the bytes, and MobileNetV2 int8 tuned under the constraint
ran 1.03x the unconstrained records (quiet, 1000 trials each; docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tvm.ir.utils import derived_object
from tvm.runtime import DataType

from ..tasks.lower import LAYOUT_FREE
from ..tvm_api import ms, tirx

MIN_OUTPUTS_PER_THREAD = 1024


@derived_object
class ThreadSplit(ms.postproc.PyPostproc):
    """Reject kernels that leave threads idle, and activation-bound NHWC kernels whose parallel
    split is not by output rows."""

    def __init__(self, threads: int):
        super().__init__()
        self.threads = threads

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def apply(self, sch) -> bool:
        func = sch.mod["main"]
        nest = OutputNest.of(func) if self.threads > 1 else None
        if nest is None:
            return True
        if not nest.uses_all_threads(self.threads):
            return False
        return not activation_bound(func) or nest.splits_by_rows(self.threads)

    def clone(self):
        return ThreadSplit(self.threads)


def activation_bound(func: Any) -> bool:
    """A float kernel with an NHWC output whose activations (inputs and output) take at least as
    many bytes as its weights (the params `tasks.lower` marked layout-free)."""
    weights = {int(i) for i in (func.attrs or {}).get(LAYOUT_FREE, [])}
    if not weights:
        return False
    out = func.params[-1]
    if len(out.shape) != 4 or int(out.shape[0]) != 1:
        return False
    sizes = [_bytes(p) for p in func.params]
    weight = sum(s for i, s in enumerate(sizes) if i in weights)
    return sum(sizes) - weight >= weight


@dataclass(frozen=True)
class OutputNest:
    """The block that writes a kernel's output (its last param), and the loops above it."""

    out: Any
    loops: list[Any]
    realize: Any

    @staticmethod
    def of(func: Any) -> OutputNest | None:
        out = func.params[-1]  # 0.27: params are the buffers
        found = _output_block(func.body, out, [])
        return None if found is None else OutputNest(out, *found)

    def uses_all_threads(self, threads: int) -> bool:
        """Whether the output, if it has at least MIN_OUTPUTS_PER_THREAD elements per thread,
        is written under a parallel loop of at least `threads` iterations."""
        if _elements(self.out) < threads * MIN_OUTPUTS_PER_THREAD:
            return True
        return any(
            loop.kind == tirx.ForKind.PARALLEL and int(loop.extent) >= threads
            for loop in self.loops
        )

    def splits_by_rows(self, threads: int) -> bool:
        """Whether no thread's chunk of the parallel loop writes every output row (a thread
        owns a band of rows). True when there are fewer rows than threads: no split gives each
        thread a band (a 1-row feature map of an audio model; MediaPipe's transposed convs to
        one channel, which TVM computes as NCHW: their axis 1 is the single channel), and
        rejecting every split left such a task without a single valid candidate. True also
        when the parallel loop has fewer iterations than threads: one thread writes the whole
        output, there is no split to align (MetaSchedule's only sketch for a tiny PReLU of 32
        values in MediaPipe's hand recrop model: rejecting it left no candidate at all)."""
        from tvm import ir, sym

        rows = int(self.out.shape[1])
        if rows < threads:
            return True
        parallel = [i for i, lp in enumerate(self.loops) if lp.kind == tirx.ForKind.PARALLEL]
        if len(parallel) != 1:
            return True  # not parallel (or nested parallel loops): nothing to align
        extent = int(self.loops[parallel[0]].extent)
        if extent < threads:
            return True
        chunk = -(-extent // threads)
        block = self.realize.block
        (store,) = [w for w in block.writes if w.source.same_as(self.out)]
        for start in range(0, extent, chunk):
            analyzer = sym.Analyzer()
            for i, loop in enumerate(self.loops):
                span = (start, min(chunk, extent - start)) if i == parallel[0] else None
                lo, n = span or (loop.min, loop.extent)
                analyzer.bind(loop.loop_var, ir.Range.from_min_extent(lo, n))
            for iv, value in zip(block.iter_vars, self.realize.iter_values):
                analyzer.bind(iv.var, value)
            bound = analyzer.const_int_bound(store.region[1].min)
            if bound.min_value <= 0 and bound.max_value >= rows - 1:
                return False
        return True


def _output_block(stmt: Any, out: Any, loops: list[Any]) -> tuple[list[Any], Any] | None:
    """The loops above, and the realize of, the block that writes `out`."""
    if isinstance(stmt, tirx.For):
        return _output_block(stmt.body, out, [*loops, stmt])
    if isinstance(stmt, tirx.SeqStmt):
        for s in stmt.seq:
            found = _output_block(s, out, loops)
            if found is not None:
                return found
        return None
    from tvm import s_tir

    if isinstance(stmt, s_tir.SBlockRealize):
        if any(w.source.same_as(out) for w in stmt.block.writes) and stmt.block.iter_vars:
            return loops, stmt
        return _output_block(stmt.block.body, out, loops)
    body = getattr(stmt, "body", None)
    return _output_block(body, out, loops) if isinstance(body, tirx.Stmt) else None


def _elements(buffer: Any) -> int:
    n = 1
    for d in buffer.shape:
        n *= int(d)
    return n


def _bytes(buffer: Any) -> int:
    return _elements(buffer) * DataType(buffer.dtype).bits // 8
