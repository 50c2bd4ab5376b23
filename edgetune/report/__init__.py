"""Seeing a tuning run: the live terminal display, and `report` (HTML or Markdown with charts)."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import InputError
from ..outputs import written_whole
from .content import Report, build_report, load_other
from .markdown import render_markdown
from .page import render_html
from .plot import LineChart, Series
from .tuning import TuningRun, load_run

FORMATS = ("html", "md")
SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}


def report_format(fmt: str | None, output: str | None) -> str:
    """The format asked for, else the one `output`'s suffix names, else html; InputError when
    both are given and disagree (Markdown written to r.html)."""
    named = SUFFIXES.get(Path(output).suffix.lower()) if output else None
    if fmt and named and fmt != named:
        raise InputError(f"-o {output}: its suffix says {named}, --format says {fmt}")
    return fmt or named or "html"


def make_report(records: str | Path, others: list[str | Path] | None = None) -> Report:
    """The report of a records folder, with other folders or compare/profile JSON beside it."""
    return build_report(load_run(records), [load_other(o) for o in others or []])


def write_report(report: Report, output: str | Path, fmt: str = "html") -> Path:
    """The report written whole to `output` (checked by the caller: `outputs.output_file`)."""
    path = Path(output)
    text = render_html(report) if fmt == "html" else render_markdown(report)
    with written_whole(path) as partial:
        partial.write_text(text, encoding="utf-8")
    return path


def write_pngs(report: Report, folder: str | Path) -> list[Path]:
    """Each chart of the report as a PNG in `folder` (rendered by headless Chromium)."""
    folder = Path(folder)  # checked by the caller: `outputs.output_folder`
    folder.mkdir(parents=True, exist_ok=True)
    return [
        c.save(folder / (re.sub(r"[^a-z0-9]+", "_", c.title.lower()).strip("_") + ".png"))
        for c in report.charts()
    ]


__all__ = [
    "FORMATS",
    "LineChart",
    "Report",
    "Series",
    "TuningRun",
    "make_report",
    "report_format",
    "write_pngs",
    "write_report",
]
