"""Line charts as self-contained SVG (no fonts, scripts or files fetched), and as PNG.

The one plotting module of edgetune: `report` embeds the SVG in its page, the benchmark
scripts in `scripts/` write the same charts as .svg and .png.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from .browser import screenshot

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
MARGIN = {"left": 70, "right": 20, "top": 36, "bottom": 48}


@dataclass
class Series:
    label: str
    points: list[tuple[float, float]]


@dataclass
class LineChart:
    """Series of (x, y) points joined by lines, each point marked; y optionally logarithmic."""

    title: str
    x_label: str
    y_label: str
    series: list[Series] = field(default_factory=list)
    log_y: bool = False
    width: int = 560
    height: int = 360

    def svg(self) -> str:
        """The chart as an <svg> element (usable inline in HTML or as a file)."""
        w, h, m = self.width, self.height, MARGIN
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12" role="img">',
            f"<title>{escape(self.title)}</title>",
            f'<rect width="{w}" height="{h}" fill="white"/>',
            f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">'
            f"{escape(self.title)}</text>",
        ]
        points = [p for s in self.series for p in s.points]
        if not points:
            parts.append(
                f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" fill="#666">no data</text>'
            )
            return "\n".join([*parts, "</svg>"])
        x_ticks = _ticks(min(p[0] for p in points), max(p[0] for p in points))
        ys = [p[1] for p in points]
        y_ticks = _log_ticks(min(ys), max(ys)) if self.log_y else _ticks(min(ys), max(ys))
        y_of = math.log10 if self.log_y else float
        x0, x1, y0, y1 = m["left"], w - m["right"], h - m["bottom"], m["top"]

        def sx(x: float) -> float:
            return x0 + (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (x1 - x0)

        def sy(y: float) -> float:
            lo, hi = y_of(y_ticks[0]), y_of(y_ticks[-1])
            return y0 - (y_of(y) - lo) / (hi - lo) * (y0 - y1)

        for t in x_ticks:
            parts.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{y1}" y2="{y0}" '
                         f'stroke="#e5e5e5"/><text x="{sx(t):.1f}" y="{y0 + 16}" '
                         f'text-anchor="middle">{_label(t)}</text>')  # fmt: skip
        for t in y_ticks:
            parts.append(f'<line x1="{x0}" x2="{x1}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" '
                         f'stroke="#e5e5e5"/><text x="{x0 - 6}" y="{sy(t) + 4:.1f}" '
                         f'text-anchor="end">{_label(t)}</text>')  # fmt: skip
        parts += [
            f'<rect x="{x0}" y="{y1}" width="{x1 - x0}" height="{y0 - y1}" fill="none" '
            'stroke="#999"/>',
            f'<text x="{(x0 + x1) / 2}" y="{h - 10}" text-anchor="middle">'
            f"{escape(self.x_label)}</text>",
            f'<text transform="translate(16 {(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">'
            f"{escape(self.y_label)}</text>",
        ]
        for i, s in enumerate(self.series):
            color = COLORS[i % len(COLORS)]
            xy = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s.points)
            parts.append(f'<polyline points="{xy}" fill="none" stroke="{color}" '
                         'stroke-width="2"/>')  # fmt: skip
            parts += [
                f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>'
                for x, y in s.points
            ]
            ly = y1 + 16 + 16 * i
            parts.append(f'<line x1="{x1 - 170}" x2="{x1 - 150}" y1="{ly - 4}" y2="{ly - 4}" '
                         f'stroke="{color}" stroke-width="2"/><text x="{x1 - 145}" y="{ly}">'
                         f"{escape(s.label[:24])}</text>")  # fmt: skip
        return "\n".join([*parts, "</svg>"])

    def save(self, path: str | Path) -> Path:
        """Write the chart to `path`: .svg as is, .png rendered by headless Chromium."""
        path = Path(path)
        if path.suffix == ".png":
            with tempfile.TemporaryDirectory(prefix="edgetune-chart-") as tmp:
                svg = Path(tmp) / "chart.svg"
                svg.write_text(self.svg(), encoding="utf-8")
                screenshot(svg, path, self.width, self.height)
        else:
            path.write_text(self.svg(), encoding="utf-8")
        return path


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1, 2 or 5 x a power of ten apart)."""
    if hi <= lo:
        lo, hi = (lo - 1, hi + 1) if lo == 0 else (lo * 0.9, hi * 1.1)
        lo, hi = min(lo, hi), max(lo, hi)
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(k * mag for k in (1, 2, 5, 10) if k * mag >= raw)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(k * step, 12) for k in range(first, last + 1)]


def _log_ticks(lo: float, hi: float) -> list[float]:
    """1-2-5 ticks from the power of ten at or below `lo` to the one at or above `hi`."""
    lo_exp, hi_exp = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    hi_exp = max(hi_exp, lo_exp + 1)
    ticks = [k * 10.0**e for e in range(lo_exp, hi_exp) for k in (1, 2, 5)]
    return [t for t in ticks if t <= hi] + [10.0**hi_exp]


def _label(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"
