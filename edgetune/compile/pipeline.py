"""The Relax lowering shared by task extraction and the final build.

Tasks must be extracted from exactly the module that is later compiled, or the database's
records would not match the build's functions.
"""

from __future__ import annotations

from typing import Any


def lower_for_tuning(mod: Any, target: Any) -> Any:
    """Legalize and fuse a Relax module into the primitive functions MetaSchedule tunes."""
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
