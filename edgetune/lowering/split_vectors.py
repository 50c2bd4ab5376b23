"""Vectorized loops of a width that is not a power of two, split into power-of-two vectors.

A tuned schedule vectorizes its innermost spatial loops whatever their extent: 24 output channels
(MobileNetV2's 56x56 project convs) become `float32x24` in TIR and `<24 x float>` in LLVM, which
the x86 backend legalizes lane by lane (`vinsertps`, `vextractps`, stack spills; register tiles
of 8-14 pixels x 24 channels ran 8-14x slower than as power-of-two vectors, docs/performance.md,
session 20). This pass rewrites `for i in vectorized(n)` into one vectorized loop per set bit of
n, widest first: 24 -> 16 + 8, 40 -> 32 + 8, 48 -> 32 + 16, each piece a copy of the body with
i = offset + its own index. Every piece is a power of two that LLVM computes in whole registers,
and there are as few pieces as possible: on AVX-512, 24 fp32 channels take one zmm and one ymm
per pixel (equal pieces, 3 x `float32x8`, took three ymm: the 56x56 project convs ran 1.3-1.4x
slower, session 30). Each lane computes the same values in the same order; the pass runs at
build time, before TVM's VectorizeLoop, so task hashes and tuning records are unchanged.

Loops wider than MAX_LANES become a serial loop of MAX_LANES-wide vectors, then the remainder as
above. The search never vectorizes more than 64 lanes (MetaSchedule's max_vectorize_extent and
innermost tile), but a record replayed on a kernel that shares its anchor block can: a
squeeze-and-excite kernel of MediaPipe's selfie segmenter (a conv on a 1x1 map whose
epilogue multiplies a 128x128x16 map) got its whole epilogue as one `vectorized(262144)`
loop, and TVM's VectorizeLoop, whose lane count wraps at 65536, stopped the build
("Cannot broadcast lanes=0 to 1").
"""

from __future__ import annotations

from typing import Any

MIN_LANES = 4  # narrower pieces would no longer be vectors worth the name
MAX_LANES = 64  # wider loops: a serial loop of vectors this wide (the search's widest)


def pieces(n: int) -> list[tuple[int, int]]:
    """(offset, width) of the power-of-two pieces of n lanes, widest first; [] when n is a power
    of two or a piece would be narrower than MIN_LANES."""
    if n & (n - 1) == 0 or n % MIN_LANES:
        return []
    widths = [1 << bit for bit in reversed(range(n.bit_length())) if n >> bit & 1]
    offsets = [sum(widths[:k]) for k in range(len(widths))]
    return list(zip(offsets, widths))


def _split(loop: Any) -> Any:
    """`loop` split as above, or unchanged (not vectorized, not a constant extent, a step other
    than 1, or no pieces)."""
    import tvm_ffi

    from ..tvm_api import tirx

    if loop.kind != tirx.ForKind.VECTORIZED or not isinstance(loop.extent, tirx.IntImm):
        return loop
    if loop.step is not None and not (isinstance(loop.step, tirx.IntImm) and loop.step.value == 1):
        return loop
    n = int(loop.extent.value)
    rows, rest = divmod(n, MAX_LANES) if n > MAX_LANES else (0, n)
    parts = pieces(rest) or ([(0, rest)] if rest else [])
    if parts == [(0, n)]:  # at most MAX_LANES, and no pieces
        return loop
    var, ty = loop.loop_var, str(loop.extent.ty)

    def piece(offset: int, width: int, row: Any = None) -> Any:
        inner = tirx.Var(f"{var.name}_{offset}", ty)
        index = loop.min + tirx.const(offset, ty) + inner
        if row is not None:
            index = index + row * tirx.const(MAX_LANES, ty)
        body = tvm_ffi.structural_map(
            loop.body, ((tirx.Var, lambda v: index if v.same_as(var) else v),), order="pre"
        )
        extent = tirx.const(width, ty)
        kind = tirx.ForKind.VECTORIZED
        return tirx.For(inner, tirx.const(0, ty), extent, kind, body, annotations=loop.annotations)

    out = []
    if rows:
        row = tirx.Var(f"{var.name}_row", ty)
        vectors = piece(0, MAX_LANES, row)
        out.append(
            tirx.For(row, tirx.const(0, ty), tirx.const(rows, ty), tirx.ForKind.SERIAL, vectors)
        )
    out += [piece(rows * MAX_LANES + offset, width) for offset, width in parts]
    return out[0] if len(out) == 1 else tirx.SeqStmt(out)


def split_vectors() -> Any:
    """The pass: every CPU function's vectorized loops split as above, then made SSA again (the
    pieces repeat the body's blocks and their variables)."""
    import tvm

    from ..tvm_api import tirx
    from .rewrite_pass import cpu_target, target_rewrite_pass

    split = target_rewrite_pass("SplitVectors", cpu_target, tirx.For, _split, "post")
    return tvm.transform.Sequential([split, tirx.transform.ConvertSSA()], name="SplitVectors")
