"""Board-farm CI (`edgetune ci`): a suite of models checked on farm boards against LiteRT's
numerics and stored latency baselines, with JUnit, JSON and Markdown reports."""

from .baseline import Timing, judge, read_baseline, rule_text, write_baseline
from .report import FILES, lines, write_outputs
from .result import CheckResult, SuiteResult
from .rows import COLUMNS, rows
from .runner import run_suite
from .suite import Check, Suite, load_suite

__all__ = [
    "COLUMNS",
    "FILES",
    "Check",
    "CheckResult",
    "Suite",
    "SuiteResult",
    "Timing",
    "judge",
    "lines",
    "load_suite",
    "read_baseline",
    "rows",
    "rule_text",
    "run_suite",
    "write_baseline",
    "write_outputs",
]
