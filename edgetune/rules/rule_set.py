"""Named rule sets and the board -> search space mapping.

A rule set yields the parts of a search space (MetaSchedule schedule rules, postprocessors and
mutator probabilities) for a board; the search space of a task is MetaSchedule's PostOrderApply
over them. The int8 tensorize hooks (`tensorize.py`) go into every named set just before its
first generic multi-level tiling (PostOrderApply gives a block to the rules in order, and a block
that a tiling rule has tiled is not tiled again), `epilogue_inputs.py` right after AutoInline
(each rule visits every block before the next rule runs: a fused epilogue is one block by then,
and its padded input is inlined into it before tiling moves it), and whatever the board's
`rules_module` adds (see `extend.py`) comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import BoardError
from .custom_rules import quiet_custom_rules

if TYPE_CHECKING:
    from ..board import Board


@dataclass
class RuleSetParts:
    """The ingredients of a search space, in the order MetaSchedule applies them.

    `rules` are applied to every block (post-order, each rule to the schedules the previous ones
    produced), `postprocs` to every sampled candidate, `mutators` maps a Mutator to its
    probability in the evolutionary search.
    """

    rules: list[Any] = field(default_factory=list)
    postprocs: list[Any] = field(default_factory=list)
    mutators: dict[Any, float] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleSet:
    """A named recipe for a search space.

    `build(board)` returns the board's parts, or None for "MetaSchedule's built-in defaults for
    the target" (only the `default` set does that).
    """

    name: str
    description: str
    build: Callable[[Board], RuleSetParts | None]

    def parts(self, board: Board) -> RuleSetParts | None:
        """The parts for `board`: the set's own, the tensorize hooks, then the user's module."""
        from .epilogue_inputs import InlineEpilogueInputs
        from .extend import apply_rules_module
        from .tensorize import tensorize_postprocs, tensorize_rules

        parts = self.build(board)
        if parts is None:
            if board.rules_module:
                raise BoardError(
                    f"board '{board.name}': rules_module needs a named rule set, not '{self.name}'"
                )
            return None
        first_tiling = next(
            (i for i, r in enumerate(parts.rules) if "MultiLevelTiling" in type(r).__name__),
            len(parts.rules),
        )
        parts.rules[first_tiling:first_tiling] = tensorize_rules(board)
        inlined = [i for i, r in enumerate(parts.rules) if type(r).__name__ == "AutoInline"]
        parts.rules.insert(inlined[-1] + 1 if inlined else 0, InlineEpilogueInputs())
        parts.postprocs.extend(tensorize_postprocs(board))
        apply_rules_module(parts, board)
        return parts

    def space(self, board: Board, mods: Iterable[Any] = ()):
        """MetaSchedule space generator for this board; `mods`: the tasks it will generate
        spaces for (TOPI's marks for custom rules nobody registered are then handled quietly,
        `custom_rules`)."""
        from ..tvm_api import ms, register_tensor_intrinsics

        quiet_custom_rules(mods, board.target())
        parts = self.parts(board)
        if parts is None:  # MetaSchedule's rules for the target name TVM's tensor intrinsics
            register_tensor_intrinsics()
            return ms.space_generator.PostOrderApply()
        return ms.space_generator.PostOrderApply(
            sch_rules=parts.rules, postprocs=parts.postprocs, mutator_probs=parts.mutators
        )


def _metaschedule_default(board: Board) -> None:
    """None: let MetaSchedule pick its built-in rules from the target (space_generator.cc)."""
    return None


_RULE_SETS: dict[str, RuleSet] = {
    "default": RuleSet(
        "default",
        "MetaSchedule's built-in rules for the target (GPU targets, OpenCL included, get the "
        "CUDA rules with shared-memory staging)",
        _metaschedule_default,
    ),
}


def register(rule_set: RuleSet) -> None:
    """Add a rule set under its name."""
    _RULE_SETS[rule_set.name] = rule_set


def rule_set_names() -> list[str]:
    return sorted(_RULE_SETS)


def get_rule_set(name: str) -> RuleSet:
    if name not in _RULE_SETS:
        raise BoardError(f"unknown rule set '{name}' (known: {', '.join(rule_set_names())})")
    return _RULE_SETS[name]


def schedule_error_line(err: Exception) -> str:
    """What a TVM ScheduleError says went wrong: its "Error message:" line (the rest is the
    IR it failed on), else its first line."""
    lines = str(err).splitlines()
    message = [ln.partition(":")[2] for ln in lines if ln.startswith("Error message")]
    return (message or lines or ["?"])[0].strip()
