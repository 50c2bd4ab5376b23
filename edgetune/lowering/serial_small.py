"""Parallel loops too small to pay for their threads, run on the calling thread.

TVM runs a parallel loop by waking its thread pool and waiting for every thread at the loop's
end: about a microsecond per kernel call on the 2-vCPU hosts, whatever the loop holds. A
keyword-spotting model of 29 kernel calls of a few hundred elements each (microww_alexa, 0.1
MFLOP) ran 25 us at 2 threads and 7 us at one (docs/performance.md, session 54); its tuned
estimates, measured at 2 threads, added up to 44 us. This pass turns a parallel loop whose
whole nest does fewer than SERIAL_BELOW element operations (`iterations`) into a serial one. It runs
in every CPU build (search candidates too, so that their times and the model's agree), before
TVM lowers parallel loops; task hashes and records are unchanged.

A loop made serial keeps its unrolling as a parallel loop has it: TVM never unrolls a parallel
loop itself, only the loops inside it, but would unroll a serial one under its own
`pragma_auto_unroll_max_step`. A search candidate of a global mean (16 rows parallel, each a
64-lane gather, unroll 512) then became 4096 scalar loads in one block, which LLVM took 100 s to
compile (build timeouts on the host board are 120 s). The pragmas move onto the loops inside.
"""

from __future__ import annotations

from typing import Any

# element operations under one parallel loop (a vector store: its lanes); measured, session 54
SERIAL_BELOW = 16384
UNROLL_PRAGMAS = ("pragma_auto_unroll_max_step", "pragma_unroll_explicit")


def iterations(stmt: Any, cap: int) -> int:
    """The element operations under `stmt`: its innermost statements' executions, a vector
    store counting its lanes (a tensorized VNNI block's int32x16: 16), a loop of an unknown
    extent (or a while loop) counting `cap`; counted up to `cap`."""
    from ..tvm_api import tirx

    if isinstance(stmt, tirx.While):  # a trip count known only at run time
        return cap
    if isinstance(stmt, tirx.For):
        if not isinstance(stmt.extent, tirx.IntImm):
            return cap
        extent = int(stmt.extent.value)
        return min(cap, extent * iterations(stmt.body, -(-cap // max(1, extent))))
    if isinstance(stmt, tirx.SeqStmt):
        total = 0
        for s in stmt.seq:
            total += iterations(s, cap - total)
            if total >= cap:
                return cap
        return total
    if isinstance(stmt, tirx.IfThenElse):
        branches = [stmt.then_case, stmt.else_case]
        return max(iterations(b, cap) for b in branches if b is not None)
    if hasattr(stmt, "block"):  # a block realized: its block's statements
        return iterations(stmt.block, cap)
    if isinstance(stmt, tirx.BufferStore):  # a vector store (a tensorized block's): its lanes
        return _lanes(stmt.value)
    body = getattr(stmt, "body", None)
    if body is None:  # an evaluated call: one execution
        return 1
    init = getattr(stmt, "init", None)  # a reduction block's initialization
    return min(cap, iterations(body, cap) + (iterations(init, cap) if init is not None else 0))


def _lanes(value: Any) -> int:
    """The lanes of a stored value's type: 16 for int32x16, 1 for a scalar."""
    _, _, lanes = str(value.ty).partition("x")
    return int(lanes) if lanes.isdigit() else 1


def _serial_if_small(loop: Any) -> Any:
    from ..tvm_api import tirx

    if loop.kind != tirx.ForKind.PARALLEL or iterations(loop, SERIAL_BELOW) >= SERIAL_BELOW:
        return loop
    pragmas = {k: v for k, v in loop.annotations.items() if k in UNROLL_PRAGMAS}
    kept = {k: v for k, v in loop.annotations.items() if k not in pragmas}
    body = _with_pragmas(loop.body, pragmas)
    return _loop(loop, kind=tirx.ForKind.SERIAL, body=body, annotations=kept)


def _with_pragmas(body: Any, pragmas: dict) -> Any:
    """`body` with `pragmas` on every loop in it (a loop's own annotations win): the unrolling
    its parallel parent's pragmas gave them, without unrolling the parent."""
    import tvm_ffi

    from ..tvm_api import tirx

    def annotate(loop: Any) -> Any:
        return _loop(loop, annotations={**pragmas, **dict(loop.annotations.items())})

    return tvm_ffi.structural_map(body, ((tirx.For, annotate),), order="pre") if pragmas else body


def _loop(loop: Any, kind: Any = None, body: Any = None, annotations: Any = None) -> Any:
    """`loop` with its kind, body or annotations replaced (None: kept)."""
    from ..tvm_api import tirx

    return tirx.For(
        loop.loop_var, loop.min, loop.extent, loop.kind if kind is None else kind,
        loop.body if body is None else body, thread_binding=loop.thread_binding,
        annotations=loop.annotations if annotations is None else annotations, step=loop.step,
    )  # fmt: skip


def serial_small_loops() -> Any:
    """The pass: every CPU function's small parallel loops made serial, as above."""
    from ..tvm_api import tirx
    from .rewrite_pass import cpu_target, target_rewrite_pass

    return target_rewrite_pass("SerialSmallLoops", cpu_target, tirx.For, _serial_if_small, "post")
