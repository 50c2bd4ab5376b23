"""Per-board sketch rule sets: the schedule rules, postprocessors and mutators of a search space.

Named sets: `default` (MetaSchedule's built-ins), `host`, `cortex-a53` (cpu.py), `mali`
(mali.py). A board file names its set (`rule_set = "..."`) and may add rules from its own
module (`rules_module = "..."`, see extend.py).
"""

from .rule_set import RuleSet, RuleSetParts, get_rule_set, register, rule_set_names

__all__ = ["RuleSet", "RuleSetParts", "get_rule_set", "register", "rule_set_names"]


def _register_builtin() -> None:
    from .cpu import CORTEX_A53_SET, HOST_SET
    from .mali import MALI_SET

    for rule_set in (HOST_SET, CORTEX_A53_SET, MALI_SET):
        register(rule_set)


_register_builtin()
