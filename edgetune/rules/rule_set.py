"""Named rule sets and the board -> search space mapping.

A rule set yields MetaSchedule schedule rules, postprocessors and mutator probabilities for a
target; the search space of a task is MetaSchedule's PostOrderApply over them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import BoardError

if TYPE_CHECKING:
    from ..board import Board


@dataclass(frozen=True)
class RuleSet:
    """A named recipe for a search space."""

    name: str
    description: str
    build: Callable[[Board], tuple[list[Any], list[Any], dict[Any, float]] | None]

    def space(self, board: Board):
        """MetaSchedule space generator for this board."""
        from tvm.s_tir.meta_schedule.space_generator import PostOrderApply

        parts = self.build(board)
        if parts is None:
            return PostOrderApply()
        sch_rules, postprocs, mutators = parts
        return PostOrderApply(sch_rules=sch_rules, postprocs=postprocs, mutator_probs=mutators)


def _metaschedule_default(board: Board) -> None:
    """None: let MetaSchedule pick its built-in rules from the target (space_generator.cc)."""
    return None


_RULE_SETS: dict[str, RuleSet] = {
    "default": RuleSet("default", "MetaSchedule's defaults for the target", _metaschedule_default),
}


def register(rule_set: RuleSet) -> None:
    """Add a rule set under its name."""
    _RULE_SETS[rule_set.name] = rule_set


def rule_set_names() -> list[str]:
    return sorted(_RULE_SETS)


def get_rule_set(name: str) -> RuleSet:
    if name not in _RULE_SETS:
        # Board files written for rule sets not implemented yet fall back to the defaults.
        if name in ("host", "cortex-a53", "mali"):
            return _RULE_SETS["default"]
        raise BoardError(f"unknown rule set '{name}' (known: {', '.join(rule_set_names())})")
    return _RULE_SETS[name]
