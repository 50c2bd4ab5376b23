"""A report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched."""

from __future__ import annotations

from html import escape

from .content import Report, Table

STYLE = """
body { font-family: sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; } p.note { color: #555; font-size: 13px; }
"""


def _cell(value: str) -> str:
    numeric = value.replace(".", "", 1).replace("%", "").replace("x", "").isdigit()
    return f'<td class="num">{escape(value)}</td>' if numeric else f"<td>{escape(value)}</td>"


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in table.columns) if any(table.columns) else ""
    rows = "".join("<tr>" + "".join(map(_cell, row)) + "</tr>\n" for row in table.rows)
    return f"<table>{f'<tr>{head}</tr>' if head else ''}\n{rows}</table>"


def render_html(report: Report) -> str:
    body = [f"<h1>{escape(report.title)}</h1>"]
    for section in report.sections:
        body.append(f"<h2>{escape(section.title)}</h2>")
        charts = [b.svg() for b in section.blocks if not isinstance(b, (str, Table))]
        if charts:
            body.append('<div class="charts">' + "\n".join(charts) + "</div>")
        for block in section.blocks:
            if isinstance(block, str):
                body.append(f'<p class="note">{escape(block)}</p>')
            elif isinstance(block, Table):
                body.append(_table(block))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
