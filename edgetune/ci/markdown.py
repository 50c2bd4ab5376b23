"""The Markdown summary of a suite run, for a merge-request comment."""

from __future__ import annotations

from .result import SuiteResult
from .rows import COLUMNS, ICONS, emulated_boards, rows


def markdown(run: SuiteResult) -> str:
    counts = run.counts
    head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    stopped = ", interrupted: exit 130" if run.interrupted else ""
    lines = [f"### edgetune ci: {run.suite} ({head or 'nothing run'}{stopped})", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows(run):
        row["status"] = f"{ICONS[row['status']]} {row['status']}"
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in COLUMNS) + " |")
    problems = [(r, reason) for r in run.results if r.status != "pass" for reason in r.reasons]
    if problems:
        lines += ["", "**Why:**", ""]
        lines += [f"- `{r.check}` on `{r.board}`: {reason}" for r, reason in problems]
    if notes := [(r, reason) for r in run.results if r.status == "pass" for reason in r.reasons]:
        lines += ["", "**Notes:**", ""]
        lines += [f"- `{r.check}` on `{r.board}`: {reason}" for r, reason in notes]
    for board, note in emulated_boards(run).items():
        lines += ["", f"Timings on `{board}` are **emulated**: {note}."]
    lines += ["", f"Rule: {run.rule}."]
    return "\n".join(lines) + "\n"
