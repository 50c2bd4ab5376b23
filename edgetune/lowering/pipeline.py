"""The TIR pipeline every edgetune CPU build uses (candidates, final models): parallel loops too
small for their threads made serial (serial_small.py), vectorized loops split into power-of-two
widths (split_vectors.py), float32 exp and sigmoid as vectorizable
arithmetic (vector_exp.py), TVM's default lowering, float divisions by constants as
multiplications (constant_divide.py), then the x86 lowering of the requantization's 64-bit
products (even_odd.py)."""

from __future__ import annotations

from functools import cache
from typing import Any

PIPELINE = "edgetune"


@cache
def tir_pipeline() -> str:
    """Name of the pipeline, registered once per process (every candidate build asks for it)."""
    import tvm

    from ..tvm_api import tir_pipelines
    from .constant_divide import constant_divides
    from .even_odd import even_odd_products
    from .serial_small import serial_small_loops
    from .split_vectors import split_vectors
    from .vector_exp import vector_exp

    def factory() -> Any:
        lower, finalize_host, finalize_device = tir_pipelines.get_tir_pipeline("default")
        lowered = tvm.transform.Sequential(
            [
                serial_small_loops(),
                split_vectors(),
                vector_exp(),
                lower,
                constant_divides(),
                even_odd_products(),
            ]
        )
        return lowered, finalize_host, finalize_device

    tir_pipelines.register_tir_pipeline(PIPELINE, factory)
    return PIPELINE
