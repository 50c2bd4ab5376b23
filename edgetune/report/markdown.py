"""A report as Markdown: the same sections, tables as pipe tables, charts as their data."""

from __future__ import annotations

from .content import Report, Table
from .plot import LineChart


def _table(table: Table) -> list[str]:
    def row(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [row(table.columns), row(["---"] * len(table.columns)), *map(row, table.rows), ""]


def _chart(chart: LineChart) -> list[str]:
    lines = [f"{chart.title} ({chart.x_label} -> {chart.y_label}):"]
    for s in chart.series:
        points = ", ".join(f"{x:.4g}: {y:.4g}" for x, y in s.points) or "no data"
        lines.append(f"- {s.label}: {points}")
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    lines = [f"# {report.title}", ""]
    for section in report.sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, str):
                lines += [block, ""]
            elif isinstance(block, Table):
                lines += _table(block)
            else:
                lines += _chart(block)
    return "\n".join(lines)
