"""What one check on one board gave, and what a whole suite run gave (with its exit code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..stop import INTERRUPTED

PASS, FAIL, ERROR = "pass", "fail", "error"  # error: infrastructure (board down, no tracker)
EXIT_CODES = {PASS: 0, FAIL: 1, ERROR: 2}


@dataclass
class CheckResult:
    """One model on one board: status, the reasons for it, and the facts measured."""

    check: str
    model: str
    board: str
    emulated: bool  # timings from an emulator: labelled so in every output
    timing_note: str
    threshold_pct: float
    rounds: int
    repeat: int
    facts: dict[str, Any]  # target, toolchain, versions, others_cores: how it was measured
    status: str = PASS
    reasons: list[str] = field(default_factory=list)  # why it failed (or notes when it passed)
    latency_ms: float | None = None  # median of the round medians
    round_medians_ms: list[float] = field(default_factory=list)
    baseline_ms: float | None = None
    limit_ms: float | None = None
    change_pct: float | None = None
    numerics: list[str] = field(default_factory=list)  # agreement with LiteRT, per output
    reference: str = ""  # what the outputs were checked against, and the tolerance
    trials: int = 0  # candidates measured by this run (tuning of untuned tasks)
    tuned_tasks: int | None = None
    total_tasks: int | None = None
    artifact: str = ""
    seconds: float = 0.0

    def fail(self, reason: str, status: str = FAIL) -> None:
        self.reasons.append(reason)
        if self.status != ERROR:
            self.status = status

    @property
    def timing_label(self) -> str:
        """How the latency was timed: measured, emulated, or not timed (the check stopped
        before)."""
        if self.latency_ms is None:
            return "not timed"
        return "emulated" if self.emulated else "measured"

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"timing": self.timing_label}


@dataclass
class SuiteResult:
    """Every check x board of a suite run."""

    suite: str
    rule: str
    results: list[CheckResult]
    baseline_path: str
    baseline_updated: bool = False
    interrupted: bool = False  # Ctrl-C: the checks not run are errors, the exit code 130

    @property
    def counts(self) -> dict[str, int]:
        return {s: sum(r.status == s for r in self.results) for s in EXIT_CODES}

    @property
    def exit_code(self) -> int:
        """130 if interrupted, else 1 if any check failed (numerics, regression, measured
        nothing), else 2 if a board could not be used, else 0 (an empty run measured nothing:
        1)."""
        if self.interrupted:
            return INTERRUPTED
        if not self.results:
            return 1
        codes = {EXIT_CODES[r.status] for r in self.results}
        return 1 if 1 in codes else max(codes)

    def to_json(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "exit_code": self.exit_code,
            "counts": self.counts,
            "rule": self.rule,
            "baseline": self.baseline_path,
            "baseline_updated": self.baseline_updated,
            "interrupted": self.interrupted,
            "results": [r.to_json() for r in self.results],
        }
