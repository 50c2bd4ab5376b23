"""Latency baselines (a JSON file the user commits) and the noise-aware regression rule.

The rule: a check times the model in several rounds and takes the median of the rounds'
medians. It regresses when that exceeds the baseline by more than the threshold (default 5 %)
AND by more than the measured noise, the spread (max - min) of the round medians of this run
or of the baseline run, whichever is larger: a change inside the noise is not a failure.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

FORMAT = 1
RULE = (
    "latency regresses when the median of the round medians exceeds the baseline by more than "
    "{threshold} and by more than the spread of the round medians (this run's or the "
    "baseline's, whichever is larger): a change inside the noise is not a failure"
)


@dataclass(frozen=True)
class Timing:
    """The latency of one check on one board: one median per timing round."""

    round_medians_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.round_medians_ms)

    @property
    def spread_ms(self) -> float:
        return max(self.round_medians_ms) - min(self.round_medians_ms)


@dataclass(frozen=True)
class Verdict:
    """The latency compared with the baseline."""

    regressed: bool
    baseline_ms: float | None
    limit_ms: float | None  # slower than this is a regression
    change_pct: float | None
    reason: str


NO_BASELINE = "no baseline yet (--update-baseline stores one)"


def judge(timing: Timing, baseline: Timing | None, threshold_pct: float) -> Verdict:
    """The noise-aware regression rule (module docstring) for one check on one board."""
    if baseline is None:
        return Verdict(False, None, None, None, NO_BASELINE)
    base = baseline.median_ms
    noise = max(timing.spread_ms, baseline.spread_ms)
    limit = base + max(base * threshold_pct / 100, noise)
    change = (timing.median_ms / base - 1) * 100
    regressed = timing.median_ms > limit
    why = "over" if regressed else "within"
    reason = (
        f"{timing.median_ms:.4g} ms is {change:+.1f} % vs baseline {base:.4g} ms, {why} the "
        f"limit {limit:.4g} ms (+{threshold_pct:g} % or the noise {noise:.3g} ms)"
    )
    return Verdict(regressed, base, limit, change, reason)


def rule_text(thresholds_pct: list[float]) -> str:
    """The rule, for the thresholds in use (one per check)."""
    return RULE.format(threshold=" / ".join(f"{t:g} %" for t in thresholds_pct) or "5 %")


def read_baseline(path: Path) -> dict[str, Timing]:
    """Baseline timings by key (`check@board`); empty if the file does not exist yet."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: Timing(list(v["round_medians_ms"])) for k, v in data["entries"].items()}
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise InputError(f"baseline file {path}: not an edgetune ci baseline ({err})") from None


def write_baseline(path: Path, updates: dict[str, tuple[Timing, dict[str, Any]]]) -> None:
    """Store new timings (with facts about how they were measured), keeping the other entries."""
    entries = json.loads(path.read_text(encoding="utf-8"))["entries"] if path.is_file() else {}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    for key, (timing, facts) in updates.items():
        entries[key] = {"median_ms": timing.median_ms, **asdict(timing), **facts, "updated": stamp}
    data = {"format": FORMAT, "rule": RULE.format(threshold="the threshold"), "entries": entries}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def key(check: str, board: str) -> str:
    return f"{check}@{board}"
