"""Schedules for the functions no record covers, on GPU targets (CPU functions need none).

dlight's default GPU schedules bind every unscheduled PrimFunc to threads. Its `Fallback`
inlines a function's epilogue into the block before it, which is wrong when that block is a
reduction whose reduction axes all have extent 1 (a 1x1 depthwise conv: a per-channel scale):
the epilogue lands in the reduction's `init` and in its update alike, and a bias is added
twice. Such functions get a plain schedule here instead: every block's spatial loops fused and
bound to threads, nothing inlined.
"""

from __future__ import annotations

from typing import Any

THREADS = 256  # threads per work-group of the plain schedule (dlight's Fallback uses 256 too)


def apply_gpu_fallback(mod: Any) -> Any:
    """Default GPU schedules (thread binding) for every unscheduled PrimFunc."""
    from ..tvm_api import dlight

    return dlight.ApplyDefaultSchedule(
        dlight.gpu.Matmul(),
        dlight.gpu.GEMV(),
        dlight.gpu.Reduction(),
        dlight.gpu.GeneralReduction(),
        dlight.gpu.Fallback(),
    )(_with_trivial_reductions_bound(mod))


def _with_trivial_reductions_bound(mod: Any) -> Any:
    """`mod` with its functions that hold a trivial reduction scheduled plainly (marked
    scheduled, so dlight leaves them be)."""
    import tvm

    from ..tvm_api import s_tir, tirx

    out = tvm.IRModule(dict(mod.functions), attrs=mod.attrs)
    for gv, func in mod.functions.items():
        if not isinstance(func, tirx.PrimFunc) or (
            func.attrs and "tirx.is_scheduled" in func.attrs
        ):
            continue
        sch = s_tir.Schedule(tvm.IRModule({"main": func}))
        blocks = sch.get_child_blocks(sch.get_sblock("root"))
        reductions = [_reduction_axes(sch.get(b)) for b in blocks]
        if not any(r and all(e == 1 for e in r) for r in reductions):
            continue
        if all(_bind(sch, b, len(r)) for b, r in zip(blocks, reductions)):
            out[gv] = sch.mod["main"].with_attr("tirx.is_scheduled", True)
    return out


def _reduction_axes(block: Any) -> list[int]:
    """The extents of a block's reduction axes (none for a spatial block)."""
    return [int(iv.dom.extent) for iv in block.iter_vars if iv.iter_type == 2]


def _bind(sch: Any, block: Any, reduction: int) -> bool:
    """Fuse the block's spatial loops (all but its last `reduction` loops, which must have
    extent 1) and bind them to work-groups of THREADS threads; False if it has no such shape."""
    loops = sch.get_loops(block)
    spatial, rest = loops[: len(loops) - reduction], loops[len(loops) - reduction :]
    if not spatial or any(int(sch.get(loop).extent) != 1 for loop in rest):
        return False
    groups, threads = sch.split(sch.fuse(*spatial), [None, THREADS])
    sch.bind(groups, "blockIdx.x")
    sch.bind(threads, "threadIdx.x")
    return True
