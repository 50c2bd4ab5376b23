"""Lowering a model's Relax module into the fused primitive functions that are tuned and built.

Tasks must be extracted from exactly the module that is later compiled, or the database's
records would not match the build's functions: `tasks.for_model` lowers once and hands the
same fused module to the search and to `compile`.
"""

from __future__ import annotations

from typing import Any


def lower(mod: Any, target: Any) -> Any:
    """Prepare integer operands for the target, then legalize and fuse into primitive functions."""
    import tvm
    from tvm import relax

    from ..quant.operands import prepare_for_target

    passes = tvm.transform.Sequential(
        [
            relax.transform.DecomposeOpsForInference(),
            relax.transform.CanonicalizeBindings(),
            relax.transform.LegalizeOps(),
            relax.transform.AnnotateTIROpPattern(),
            relax.transform.FoldConstant(),
            relax.transform.FuseOps(),
            relax.transform.FuseTIR(),
        ]
    )
    with target:
        return passes(prepare_for_target(mod, target))
