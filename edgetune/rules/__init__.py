"""Per-board sketch rule sets: the schedule rules, postprocessors and mutators of a search space."""

from .rule_set import RuleSet, get_rule_set, rule_set_names

__all__ = ["RuleSet", "get_rule_set", "rule_set_names"]
