"""A suite run for a terminal, and the files a CI job keeps: JUnit XML, JSON and Markdown."""

from __future__ import annotations

import json
from pathlib import Path

from ..outputs import strict_json
from .junit import junit_xml
from .markdown import markdown
from .result import SuiteResult
from .rows import emulated_boards

FILES = {"junit": "junit.xml", "json": "results.json", "markdown": "summary.md"}


def lines(run: SuiteResult, table: list[str]) -> list[str]:
    """The run for a terminal: the table, the reasons, the emulated label and the rule."""
    out = [f"edgetune ci {run.suite}:", *table]
    out += [f"{r.status.upper()} {r.check} on {r.board}: {reason}"
            for r in run.results if r.status != "pass" for reason in r.reasons]  # fmt: skip
    out += [f"note: {r.check} on {r.board}: {reason}"
            for r in run.results if r.status == "pass" for reason in r.reasons]  # fmt: skip
    out += [f"note: {board} timings are EMULATED: {note}"
            for board, note in emulated_boards(run).items()]  # fmt: skip
    out.append(f"rule: {run.rule}")
    if run.baseline_updated:
        out.append(f"baseline updated: {run.baseline_path}")
    counts = ", ".join(f"{n} {s}" for s, n in run.counts.items())
    out.append(f"{counts} -> exit {run.exit_code}")
    return out


def write_outputs(run: SuiteResult, out_dir: Path) -> dict[str, Path]:
    """JUnit XML, JSON and Markdown of the run in `out_dir`; their paths by kind."""
    paths = {kind: out_dir / name for kind, name in FILES.items()}
    paths["junit"].write_text(junit_xml(run), encoding="utf-8")
    paths["json"].write_text(
        json.dumps(strict_json(run.to_json()), indent=2) + "\n", encoding="utf-8"
    )
    paths["markdown"].write_text(markdown(run), encoding="utf-8")
    return paths
