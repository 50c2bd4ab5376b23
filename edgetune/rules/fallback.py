"""Schedules for the functions no record covers, on GPU targets (CPU functions need none)."""

from __future__ import annotations

from typing import Any


def apply_gpu_fallback(mod: Any) -> Any:
    """dlight's default GPU schedules (thread binding) for every unscheduled PrimFunc."""
    from ..tvm_api import dlight

    return dlight.ApplyDefaultSchedule(
        dlight.gpu.Matmul(),
        dlight.gpu.GEMV(),
        dlight.gpu.Reduction(),
        dlight.gpu.GeneralReduction(),
        dlight.gpu.Fallback(),
    )(mod)
