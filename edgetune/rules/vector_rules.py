"""edgetune's own rules for GPU boards without shared memory (used by the `mali` set).

MetaSchedule has no rule that ties GPU thread binding to a vector-width innermost tile, nor a
postprocessor that vectorizes each work-item's innermost loop: these are those two.
"""

from __future__ import annotations

from typing import NamedTuple

from tvm.ir.utils import derived_object

from ..tvm_api import ms

# Work-group tile, work-item tile, then the work-item's register tile split around the reduction.
# No virtual-thread level: vthreads exist to spread shared-memory banks, and there is none here.
STRUCTURE = "SSRSRS"
BINDS = ("blockIdx.x", "threadIdx.x")  # work-group, work-item
MAX_INNERMOST_FACTOR = 4


@derived_object
class BindTileLevels(ms.schedule_rule.PyScheduleRule):
    """Vector-width multi-level tiling whose spatial tile levels are bound to GPU threads.

    Wraps MetaSchedule's MultiLevelTilingWideVector (SSRSRS, innermost spatial tile = vector
    lanes, register-level cache write, no cache reads) and fuses+binds the loops of each of the
    first two spatial levels to blockIdx.x / threadIdx.x, as MultiLevelTiling's `tile_binds`
    does for the CUDA structure.
    """

    def __init__(self, vector_bits: int, max_innermost_factor: int = MAX_INNERMOST_FACTOR):
        from ..tvm_api import ms

        super().__init__()
        self.vector_bits = vector_bits
        self.max_innermost_factor = max_innermost_factor
        self.tiling = ms.schedule_rule.MultiLevelTilingWideVector(
            structure=STRUCTURE,
            vector_length_in_bits=vector_bits,
            max_innermost_factor=max_innermost_factor,
            reuse_read=None,
            reuse_write=ms.schedule_rule.ReuseType(req="must", levels=[len(BINDS)], scope="local"),
        )

    def _initialize_with_tune_context(self, context) -> None:
        self.tiling._initialize_with_tune_context(context)

    def apply(self, sch, block):
        out = []
        for tiled in self.tiling.apply(sch, block):
            if "meta_schedule.tiling_structure" in tiled.get(block).annotations:
                _bind_levels(tiled, block)
            out.append(tiled)
        return out

    def clone(self):
        return BindTileLevels(self.vector_bits, self.max_innermost_factor)


def _bind_levels(sch, block) -> None:
    """Fuse the loops of the outer spatial levels (one loop per spatial axis each), bind them."""
    spatial = sum(1 for iv in sch.get(block).iter_vars if iv.iter_type == 0)  # kDataPar
    loops = sch.get_loops(block)
    for level, tag in enumerate(BINDS):
        fused = sch.fuse(*loops[level * spatial : (level + 1) * spatial], preserve_unit_iters=True)
        sch.bind(fused, tag)


@derived_object
class VectorizeInnermost(ms.postproc.PyPostproc):
    """Vectorize each work-item's innermost spatial loop to the vector width.

    For every block inside a work-item (under threadIdx), the innermost data-parallel loop is
    split by the vector width (or the widest power of two below it that divides the loop) and
    vectorized, giving OpenCL vector types (float4, char4, char16 ...). Cheap: it runs on every
    candidate of the search.
    """

    def __init__(self, vector_bits: int):
        super().__init__()
        self.vector_bits = vector_bits

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def apply(self, sch) -> bool:
        for func_name, func in _prim_funcs(sch):
            for block in _thread_blocks(func, self.vector_bits):
                _vectorize(sch, sch.get_sblock(block.name, func_name=func_name), block.lanes)
        return True

    def clone(self):
        return VectorizeInnermost(self.vector_bits)


class ThreadBlock(NamedTuple):
    """A block inside a work-item's loop nest."""

    name: str
    lanes: int  # vector lanes for the dtype it writes
    inner: int  # product of the loop extents between the work-item loop and the block
    writes_back: bool  # reads a register (`local`) buffer: `inner` is then the register tile


def _thread_blocks(func, vector_bits: int) -> list[ThreadBlock]:
    """The blocks nested under a threadIdx loop."""
    from tvm.runtime import DataType

    from ..tvm_api import s_tir, tirx

    found: list[ThreadBlock] = []

    def extent(loop) -> int:
        return loop.extent.value if isinstance(loop.extent, tirx.IntImm) else 1

    def visit(stmt, in_thread: bool, inner: int) -> None:
        if isinstance(stmt, tirx.For):
            tag = stmt.thread_binding.thread_tag if stmt.thread_binding is not None else ""
            if tag.startswith("threadIdx"):
                in_thread, inner = True, 1
            elif in_thread:
                inner *= extent(stmt)
            visit(stmt.body, in_thread, inner)
        elif isinstance(stmt, s_tir.SBlockRealize):
            block = stmt.block
            if in_thread and block.writes:
                bits = DataType(str(block.writes[0].source.dtype)).bits
                lanes = max(1, vector_bits // bits)
                writes_back = any(r.source.scope() == "local" for r in block.reads)
                found.append(ThreadBlock(block.name_hint, lanes, inner, writes_back))
            visit(block.body, in_thread, inner)
        elif isinstance(stmt, tirx.SeqStmt):
            for s in stmt.seq:
                visit(s, in_thread, inner)
        elif hasattr(stmt, "body"):
            visit(stmt.body, in_thread, inner)

    visit(func.body, False, 1)
    return found


def _prim_funcs(sch):
    return [(gv.name_hint, f) for gv, f in sch.mod.functions.items() if hasattr(f, "body")]


@derived_object
class LimitRegisterTile(ms.postproc.PyPostproc):
    """Reject candidates whose work-items hold more than `max_scalars` outputs in registers.

    MultiLevelTiling samples register tiles freely; on a GPU without shared memory the register
    file is the only fast storage, a spilled tile is slow on Mali (and a huge private array
    stalls PoCL's compiler). Checked on the blocks that write the register cache back.
    """

    def __init__(self, max_scalars: int):
        super().__init__()
        self.max_scalars = max_scalars

    def _initialize_with_tune_context(self, context) -> None:
        pass

    def apply(self, sch) -> bool:
        for _, func in _prim_funcs(sch):
            blocks = _thread_blocks(func, 32)
            if any(b.writes_back and b.inner > self.max_scalars for b in blocks):
                return False
        return True

    def clone(self):
        return LimitRegisterTile(self.max_scalars)


def _vectorize(sch, block, lanes: int) -> None:
    """Vectorize the block's innermost loop by the widest power of two <= lanes dividing it
    (a 4-wide int8 tile becomes char4 when the register is 16 lanes wide)."""
    from ..tvm_api import tirx

    loops = sch.get_loops(block)
    if not loops:
        return
    loop = sch.get(loops[-1])
    extent = loop.extent
    if (
        loop.kind != tirx.ForKind.SERIAL
        or loop.thread_binding is not None
        or not isinstance(extent, tirx.IntImm)
        or not _indexes_only_spatial_axes(loop)
    ):
        return
    width = lanes
    while width >= 2 and extent.value % width:
        width //= 2
    if width < 2:
        return
    inner = loops[-1]
    if extent.value > width:
        _, inner = sch.split(inner, factors=[None, width], preserve_unit_iters=True)
    sch.vectorize(inner)


def _indexes_only_spatial_axes(loop) -> bool:
    """The loop directly holds one block and feeds only its data-parallel axes (legal to
    vectorize)."""
    from ..tvm_api import s_tir, tirx

    realize = loop.body
    if not isinstance(realize, s_tir.SBlockRealize):
        return False
    used = False
    for iv, value in zip(realize.block.iter_vars, realize.iter_values):
        if any(v.same_as(loop.loop_var) for v in tirx.analysis.undefined_vars(value)):
            if iv.iter_type != 0:  # not kDataPar
                return False
            used = True
    return used
