"""Blocks TOPI marks for a custom schedule rule nobody registered, scheduled without a warning.

TOPI marks pooling blocks with a custom rule (annotation `schedule_rule`, e.g.
"meta_schedule.pool_max"). MetaSchedule's ApplyCustomRule looks it up per target key as a
global function `s_tir.meta_schedule.<key>.<rule>`; finding none, it logs a warning, removes the
mark and lets the other rules schedule the block. It did so on every design-space generation of
such a task: `tune --quiet` of MediaPipe's palm detection printed it 8 times. Registering
that same behaviour under the missing name keeps the schedules and their traces (the same one
Unannotate instruction, so records still match) and drops the noise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

ANNOTATION = "schedule_rule"
NO_RULE = "None"  # TOPI's "leave this block as it is": ApplyCustomRule never looks it up


def quiet_custom_rules(mods: Iterable[Any], target: Any) -> None:
    """Register `_unmarked` for every custom rule that blocks of `mods` name and no function
    implements for a key of `target`."""
    import tvm_ffi

    from ..tvm_api import s_tir

    for mod in mods:
        sch = s_tir.Schedule(mod)
        for block in sch.get_child_blocks(sch.get_sblock("root")):
            rule = sch.get(block).annotations.get(ANNOTATION)
            if rule is None or str(rule) == NO_RULE:
                continue
            for key in target.keys:
                name = f"s_tir.meta_schedule.{key}.{rule}"
                if tvm_ffi.get_global_func(name, allow_missing=True) is None:
                    tvm_ffi.register_global_func(name, _unmarked)


def _unmarked(sch: Any, block: Any) -> list[Any]:
    """What ApplyCustomRule does for an unknown rule, without its warning: drop the mark."""
    sch.unannotate(block, ANNOTATION)
    return [sch]
