"""One shape for edgetune's TIR passes: a node rewrite applied to the functions of some targets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def cpu_target(target: Any) -> bool:
    """LLVM (CPU) targets: the ones edgetune's CPU lowering passes apply to."""
    return target is not None and str(target.kind.name) == "llvm"


def target_rewrite_pass(
    name: str,
    applies_to: Callable[[Any], bool],
    node_type: type,
    rewrite: Callable[[Any], Any],
    order: str,
) -> Any:
    """A PrimFunc pass `name`: in every function whose target `applies_to`, each `node_type`
    node replaced by `rewrite(node)` (tvm_ffi.structural_map in `order`, "pre" or "post");
    functions of other targets, or without one, pass unchanged."""
    import tvm_ffi

    from ..tvm_api import tirx

    def run(func: Any, _mod: Any, _ctx: Any) -> Any:
        if not applies_to(func.attrs.get("target") if func.attrs else None):
            return func
        return tvm_ffi.structural_map(func, ((node_type, rewrite),), order=order)

    return tirx.transform.prim_func_pass(run, opt_level=0, name=name)
