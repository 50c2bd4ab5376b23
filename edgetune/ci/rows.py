"""A suite run as table rows: what the terminal table and the Markdown summary show."""

from __future__ import annotations

from typing import Any

from .result import CheckResult, SuiteResult

ICONS = {"pass": "✅", "fail": "❌", "error": "⚠️"}
COLUMNS = ["check", "board", "status", "latency", "baseline", "change", "timing", "numerics"]


def latency_text(r: CheckResult) -> str:
    """Median of the round medians and the spread (max - min) of the round medians."""
    if r.latency_ms is None:
        return "-"
    spread = max(r.round_medians_ms) - min(r.round_medians_ms)
    shown = f"{spread:.2g}" if spread >= 1e-4 * r.latency_ms else "0"  # not float noise (1e-08)
    return f"{r.latency_ms:.4g} ms (spread {shown})"


def numerics_text(r: CheckResult) -> str:
    if any(reason.startswith("numerics") for reason in r.reasons):
        return "FAIL"
    return f"ok ({r.reference})" if r.numerics else "-"


def rows(run: SuiteResult) -> list[dict[str, Any]]:
    """One row per check x board."""
    return [
        {
            "check": r.check,
            "board": r.board,
            "status": r.status,
            "latency": latency_text(r),
            "baseline": "-" if r.baseline_ms is None else f"{r.baseline_ms:.4g} ms",
            "change": "-" if r.change_pct is None else f"{r.change_pct:+.1f} %",
            "timing": r.timing_label,
            "numerics": numerics_text(r),
        }
        for r in run.results
    ]


def emulated_boards(run: SuiteResult) -> dict[str, str]:
    """Boards whose timings are emulated, with their timing note."""
    return {r.board: r.timing_note or "timings are emulated" for r in run.results if r.emulated}
