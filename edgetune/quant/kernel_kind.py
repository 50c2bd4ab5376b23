"""Which path a fused kernel took: integer kernel, QDQ fallback, or a float model's kernel."""

from __future__ import annotations

from typing import Any

INT8 = "int8"  # integer arithmetic (fp32 requantization: a float per-channel scale)
QDQ = "qdq"  # 8-bit tensors in or out, float arithmetic inside (TVM's dequantize/quantize)
FLOAT = "float"  # no 8-bit tensors: a float model's kernel

# A kernel written out with its schedule (an IR-builder extern, an AMX kernel): not a tuning task.
FIXED_SCHEDULE = "edgetune.extern_kernel"
# A fixed-schedule kernel of parallel CPU loops (no GPU threads); its value: the TFLite op.
CPU_ONLY = "edgetune.cpu_only"


def kernel_path(mod: Any) -> str:
    """Classify the single PrimFunc of a task module by the dtypes its blocks read and write:
    float tensors of more than one dimension (activations, not the per-channel scales of an
    fp32 requantization) beside 8-bit ones make it a QDQ kernel."""
    from ..tvm_api import s_tir

    sch = s_tir.Schedule(mod)
    buffers = set()
    for rv in sch.get_child_blocks(sch.get_sblock("root")):
        block = sch.get(rv)
        buffers.update(r.source for r in (*block.reads, *block.writes))
    dtypes = {str(b.dtype) for b in buffers}
    if not dtypes & {"int8", "uint8"}:
        return FLOAT
    floats = [b for b in buffers if str(b.dtype).startswith(("float", "bfloat"))]
    return QDQ if any(len(b.shape) > 1 for b in floats) else INT8
