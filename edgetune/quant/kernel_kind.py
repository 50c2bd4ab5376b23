"""Which path a fused kernel took: integer kernel, QDQ fallback, or a float model's kernel."""

from __future__ import annotations

from typing import Any

INT8 = "int8"  # integer arithmetic only
QDQ = "qdq"  # 8-bit tensors in or out, float arithmetic inside (TVM's dequantize/quantize)
FLOAT = "float"  # no 8-bit tensors: a float model's kernel

# A kernel written out with its schedule (an IR-builder extern, an AMX kernel): not a tuning task.
FIXED_SCHEDULE = "edgetune.extern_kernel"


def kernel_path(mod: Any) -> str:
    """Classify the single PrimFunc of a task module by the dtypes its blocks read and write."""
    from ..tvm_api import s_tir

    sch = s_tir.Schedule(mod)
    dtypes: set[str] = set()
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(rv)
        dtypes.update(str(r.source.dtype) for r in (*block.reads, *block.writes))
    if not dtypes & {"int8", "uint8"}:
        return FLOAT
    return QDQ if any(d.startswith(("float", "bfloat")) for d in dtypes) else INT8
