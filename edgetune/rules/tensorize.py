"""Tensorize hooks for quantized int8 tasks: rules that map int8 dot products onto the
board's instructions (x86 AVX-512 VNNI, Arm NEON widening multiply-accumulate).

Owned by the int8 work; the board rule sets call these and add what they return. Which
instruction a target has, and the operands it needs (weights packed so one instruction's tile is
contiguous, uint8 activations for VNNI), is `edgetune.quant.operands`' business: the tasks
extracted for the board already have them.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from ..quant.operands import VNNI, dot_products

if TYPE_CHECKING:
    from ..board import Board


@cache
def register_intrinsics() -> None:
    """Register TVM's intrinsics and edgetune's VNNI ones (once per process): TVM's own
    `dot_16x4_vnni` passes <16 x i32> operands to llvm.x86.avx512.vpdpbusd.512, which LLVM 22
    (inside apache-tvm 0.27) declares with <64 x i8> operands, and fails to verify; TVM has no
    8-lane (ymm) form."""
    import tvm.s_tir.tensor_intrin  # noqa: F401  (registers dot_4x4_i8i8s32_neon and others)
    from tvm.s_tir import TensorIntrin

    for dot in VNNI:
        TensorIntrin.register(dot.intrin, *_vnni_desc_impl(dot.lanes))


def _vnni_desc_impl(lanes: int) -> tuple[Any, Any]:
    """Description and implementation of `lanes` int32 accumulators += 4 u8 x s8 products
    (vpdpbusd on a 32 x lanes-bit register)."""
    from tvm.script import tirx as T

    nbytes = 4 * lanes
    acc_type, bytes_u8, bytes_i8 = f"int32x{lanes}", f"uint8x{nbytes}", f"int8x{nbytes}"
    llvm_intrin = f"llvm.x86.avx512.vpdpbusd.{32 * lanes}"

    @T.prim_func(s_tir=True)
    def desc(
        A: T.Buffer((4,), "uint8", offset_factor=1),
        B: T.Buffer((lanes, 4), "int8", offset_factor=1),
        C: T.Buffer((lanes,), "int32", offset_factor=1),
    ) -> None:
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:4], B[0:lanes, 0:4])
            T.writes(C[0:lanes])
            for i in T.serial(0, lanes):
                for k in T.serial(0, 4):
                    with T.sblock("update"):
                        vi, vk = T.axis.remap("SR", [i, k])
                        C[vi] = C[vi] + T.cast(A[vk], "int32") * T.cast(B[vi, vk], "int32")

    @T.prim_func(s_tir=True)
    def impl(
        A: T.Buffer((4,), "uint8", offset_factor=1),
        B: T.Buffer((lanes, 4), "int8", offset_factor=1),
        C: T.Buffer((lanes,), "int32", offset_factor=1),
    ) -> None:
        with T.sblock("root"):
            T.reads(C[0:lanes], A[0:4], B[0:lanes, 0:4])
            T.writes(C[0:lanes])
            a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
            a_bytes = T.reinterpret(T.broadcast(a_i32, lanes), dtype=bytes_u8)
            C[T.ramp(T.int32(0), 1, lanes)] = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id(llvm_intrin),
                C.vload([0], dtype=acc_type),
                a_bytes,
                B.vload([0, 0], dtype=bytes_i8),
                dtype=acc_type,
            )

    return desc, impl


def int8_intrinsics(board: Board) -> list[str]:
    """The dot-product intrinsics for int8 tasks on this board's target, widest first."""
    return [dot.intrin for dot in dot_products(board.target())]


def tensorize_rules(board: Board) -> list[Any]:
    """Schedule rules that tensorize int8 reductions on this board (empty: none), one per
    instruction width.

    Put them before the generic MultiLevelTiling: blocks that match an intrinsic are tiled
    around it, everything else falls through to the generic rules.
    """
    from tvm.s_tir.meta_schedule.schedule_rule import MultiLevelTilingWithIntrin, ReuseType

    intrinsics = int8_intrinsics(board)
    if intrinsics:
        register_intrinsics()
    return [
        MultiLevelTilingWithIntrin(
            intrin,
            structure="SSRSR",
            tile_binds=None,
            max_innermost_factor=64,
            vector_load_lens=None,
            reuse_read=None,
            reuse_write=ReuseType(req="may", levels=[1, 2], scope="global"),
        )
        for intrin in intrinsics
    ]


def tensorize_postprocs(board: Board) -> list[Any]:
    """Postprocessors the tensorize rules need: RewriteTensorize replaces the tiled blocks."""
    from tvm.s_tir.meta_schedule.postproc import RewriteTensorize

    if not int8_intrinsics(board):
        return []
    return [RewriteTensorize(vectorize_init_loop=False)]
