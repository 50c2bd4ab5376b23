"""Task extraction (MetaSchedule's relax_integration) plus what a user wants to see of a task."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .family import family_of

# Quantized models carry their scales as constants: structural equality sees every conv as a
# different task, anchor-block equality dedupes on the heavy block (MobileNetV2 int8: 66 -> 44).
MODULE_EQUALITY = "anchor-block"
LABEL_WIDTH = 64  # characters of a task name shown in tables and messages


@dataclass
class Task:
    """One tuning task: a fused primitive function and how often the model calls it."""

    name: str
    weight: int
    flops: float
    anchor: str  # name of the anchor block (the heaviest op), e.g. conv2d_nhwc
    dtypes: str  # input dtypes of the anchor block, e.g. "int8,int8" or "float32,float32"
    family: str  # tasks sharing a cost model in --search family, e.g. conv2d_nhwc-k1x1-s1-float32
    extracted: Any  # meta_schedule.ExtractedTask
    path: str = "float"  # int8 (integer kernel) | qdq (float inside dequantize/quantize) | float

    @property
    def mod(self) -> Any:
        return self.extracted.dispatched[0]

    @property
    def label(self) -> str:
        """The name cut to LABEL_WIDTH characters (a kernel fusing a hundred ops names each)."""
        return shorten(self.name)

    @property
    def blocks(self) -> int:
        """Blocks of the kernel (a schedule's trace visits each one)."""
        from ..tvm_api import s_tir
        from .lower import iter_blocks

        return sum(1 for _ in iter_blocks(self.mod["main"].body, s_tir))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "weight": self.weight,
            "flops": self.flops,
            "anchor": self.anchor,
            "dtypes": self.dtypes,
            "path": self.path,
            "family": self.family,
            "blocks": self.blocks,
        }


def shorten(name: str) -> str:
    """A task name for tables and messages: at most LABEL_WIDTH characters."""
    return name if len(name) <= LABEL_WIDTH else name[: LABEL_WIDTH - 3] + "..."


def _anchor(mod: Any) -> tuple[str, str]:
    from ..tvm_api import s_tir

    block = s_tir.analysis.find_anchor_sblock(mod)
    if block is None:
        return "none", ""
    dtypes = ",".join(str(r.source.dtype) for r in block.reads)
    return str(block.name_hint), dtypes


def extract_tasks(fused_mod: Any, target: Any) -> list[Task]:
    """Tasks of a module already lowered with `tasks.lower`, heaviest first. FIXED_SCHEDULE kernels
    are none: their schedule is fixed, and measuring them on random data (a scatter's random
    indices) would write out of bounds."""
    from ..quant.kernel_kind import FIXED_SCHEDULE, kernel_path
    from ..tvm_api import ms, s_tir

    tasks = []
    for ext in ms.relax_integration.extract_tasks(
        fused_mod, target, module_equality=MODULE_EQUALITY
    ):
        mod = ext.dispatched[0]
        if FIXED_SCHEDULE in mod["main"].attrs:
            continue
        anchor, dtypes = _anchor(mod)
        tasks.append(
            Task(
                name=ext.task_name,
                weight=int(ext.weight),
                flops=float(s_tir.analysis.estimate_tir_flops(mod)),
                anchor=anchor,
                dtypes=dtypes,
                family=family_of(mod),
                extracted=ext,
                path=kernel_path(mod),
            )
        )
    tasks.sort(key=lambda t: -t.flops * t.weight)
    return tasks
