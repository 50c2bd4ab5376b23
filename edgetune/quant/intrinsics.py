"""Tensor intrinsics for int8 dot products: TVM's, plus edgetune's VNNI forms.

Registered on demand (slow): before tensorizing, and before reading back records of tensorized
candidates (their traces name the intrinsics).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from .operands import VNNI


@cache
def register_intrinsics() -> None:
    """Register TVM's intrinsics and edgetune's VNNI ones (once per process): TVM's own
    `dot_16x4_vnni` passes <16 x i32> operands to llvm.x86.avx512.vpdpbusd.512, which LLVM 22
    (inside apache-tvm 0.27) declares with <64 x i8> operands, and fails to verify; TVM has no
    8-lane (ymm) form."""
    from ..tvm_api import register_tensor_intrinsics, s_tir

    register_tensor_intrinsics()  # TVM's own: dot_4x4_i8i8s32_neon and others

    for dot in VNNI:
        s_tir.TensorIntrin.register(dot.intrin, *_vnni_desc_impl(dot.lanes))


def _vnni_desc_impl(lanes: int) -> tuple[Any, Any]:
    """Description and implementation of `lanes` int32 accumulators += 4 u8 x s8 products
    (vpdpbusd on a 32 x lanes-bit register)."""
    from ..tvm_api import T

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
