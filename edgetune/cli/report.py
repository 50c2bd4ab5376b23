"""`edgetune report`: a records folder's tuning as one HTML page (or Markdown), with charts."""

from __future__ import annotations

from ..outputs import output_file, output_folder
from ..report import FORMATS, make_report, report_format, write_pngs, write_report
from ..report.browser import chromium
from .examples import help_extras
from .output import report as print_result
from .output import status
from .output_args import add_json_arg


def register(sub) -> None:
    p = sub.add_parser(
        "report",
        help="a records folder's tuning as an HTML page with charts (or Markdown)",
        description="Write one self-contained HTML page (inline SVG charts, nothing fetched) "
        "for a records folder: estimated end-to-end latency against trials and against tuning "
        "time, every task (weight, FLOPs, trials, best latency, GFLOP/s, share of the model's "
        "time, family, kernel path), failed candidates grouped by error, and the board, target, "
        "toolchain and versions that tuned it. --with puts a second records folder (curves and "
        "totals side by side) or `compare --json` / `profile --json` results beside it.",
        **help_extras("report"),
    )
    p.add_argument("records", help="records folder written by `edgetune tune`")
    p.add_argument(
        "-o",
        "--output",
        help="file to write (default: report.html or report.md; with --json, none unless given)",
    )
    p.add_argument(
        "--format", choices=FORMATS, help="html or md (default: from -o's suffix, else html)"
    )
    p.add_argument(
        "--with",
        dest="others",
        action="append",
        default=[],
        metavar="PATH",
        help="another records folder, or a JSON file from `edgetune compare --json` or "
        "`edgetune profile --json` (repeat for several)",
    )
    p.add_argument("--png", metavar="DIR", help="also write each chart as a PNG here (Chromium)")
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    args.format = report_format(args.format, args.output)
    page = args.output or (None if args.json else f"report.{args.format}")  # --json: no page
    output = output_file(page, "-o") if page else None  # before any work
    if args.png:  # a missing browser is said before any work
        chromium()
        output_folder(args.png, "--png")
    result = make_report(args.records, args.others)
    path = write_report(result, output, args.format) if output else None
    if path:
        status(f"report written to {path}")
    pngs = write_pngs(result, args.png) if args.png else []
    for png in pngs:
        status(f"chart written to {png}")
    lines = [str(p) for p in (path, *pngs) if p]
    data = {**result.data, "output": str(path) if path else None, "pngs": list(map(str, pngs))}
    print_result(args, data, lines)
    return 0
