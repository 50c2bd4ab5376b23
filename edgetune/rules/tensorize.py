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

from ..quant.operands import VNNI, dot_product

if TYPE_CHECKING:
    from ..board import Board


@cache
def register_intrinsics() -> None:
    """Register TVM's intrinsics and edgetune's VNNI one (once per process): TVM's own
    `dot_16x4_vnni` passes <16 x i32> operands to llvm.x86.avx512.vpdpbusd.512, which LLVM 22
    (inside apache-tvm 0.27) declares with <64 x i8> operands, and fails to verify."""
    import tvm.s_tir.tensor_intrin  # noqa: F401  (registers dot_4x4_i8i8s32_neon and others)
    from tvm.s_tir import TensorIntrin
    from tvm.s_tir.tensor_intrin.x86 import dot_product_16x4_u8i8i32_desc
    from tvm.script import tirx as T

    @T.prim_func(s_tir=True)
    def vnni_impl(
        A: T.Buffer((4,), "uint8", offset_factor=1),
        B: T.Buffer((16, 4), "int8", offset_factor=1),
        C: T.Buffer((16,), "int32", offset_factor=1),
    ) -> None:
        with T.sblock("root"):
            T.reads(C[0:16], A[0:4], B[0:16, 0:4])
            T.writes(C[0:16])
            a_i32 = T.reinterpret(A.vload([0], "uint8x4"), dtype="int32")
            a_u8x64 = T.reinterpret(T.broadcast(a_i32, 16), dtype="uint8x64")
            C[T.ramp(T.int32(0), 1, 16)] = T.call_llvm_pure_intrin(
                T.llvm_lookup_intrinsic_id("llvm.x86.avx512.vpdpbusd.512"),
                C.vload([0], dtype="int32x16"),
                a_u8x64,
                B.vload([0, 0], dtype="int8x64"),
                dtype="int32x16",
            )

    TensorIntrin.register(VNNI.intrin, dot_product_16x4_u8i8i32_desc, vnni_impl)


def int8_intrinsic(board: Board) -> str | None:
    """The dot-product intrinsic for int8 tasks on this board's target, or None."""
    dot = dot_product(board.target())
    return dot.intrin if dot else None


def tensorize_rules(board: Board) -> list[Any]:
    """Schedule rules that tensorize int8 reductions on this board (empty: none).

    Put them before the generic MultiLevelTiling: blocks that match the intrinsic are tiled
    around it, everything else falls through to the generic rules.
    """
    from tvm.s_tir.meta_schedule.schedule_rule import MultiLevelTilingWithIntrin, ReuseType

    intrin = int8_intrinsic(board)
    if intrin is None:
        return []
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
    ]


def tensorize_postprocs(board: Board) -> list[Any]:
    """Postprocessors the tensorize rules need: RewriteTensorize replaces the tiled blocks."""
    from tvm.s_tir.meta_schedule.postproc import RewriteTensorize

    if int8_intrinsic(board) is None:
        return []
    return [RewriteTensorize(vectorize_init_loop=False)]
