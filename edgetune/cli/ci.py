"""`edgetune ci SUITE`: check models on farm boards against LiteRT and latency baselines."""

from __future__ import annotations

from .examples import help_extras
from .output import report, status, table
from .output_args import add_json_arg


def register(sub) -> None:
    p = sub.add_parser(
        "ci",
        help="board-farm CI: check models on every board against LiteRT and baselines",
        description="For every check of the suite file (TOML) and every board it names: build "
        "from the records (tuning only tasks without a record, within the check's tune_trials), "
        "run on the board through the farm in several timing rounds, compare the outputs with "
        "LiteRT here, and compare the median of the round medians with the baseline (JSON "
        "beside the suite): a regression is slower than the baseline by more than the "
        "threshold (default 5 %) and by more than the spread of the round medians. Writes "
        "junit.xml, results.json and summary.md (Markdown for a merge request) and the built "
        ".so files to --out. Exit 0: all passed; 1: a numerics mismatch, latency regression "
        "or a check that measured nothing; 2: a board or tracker unavailable (the other boards "
        "still run) or a bad suite file. Emulated boards' timings are labelled 'emulated'. "
        "docs/ci.md has an example suite and pipeline.",
        **help_extras("ci"),
    )
    p.add_argument("suite", help="suite file (TOML), e.g. ci.toml")
    p.add_argument("--out", default="ci-out", metavar="DIR", help="output folder (default ci-out)")
    p.add_argument(
        "--update-baseline",
        action="store_true",
        help="store this run's latencies as the baseline (checks whose numerics pass) "
        "instead of judging them",
    )
    p.add_argument(
        "--check", action="append", metavar="NAME", help="run only this check (repeatable)"
    )
    add_json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..ci import COLUMNS, lines, load_suite, rows, run_suite, write_outputs
    from ..outputs import output_folder

    suite = load_suite(args.suite)
    suite.selected(args.check)  # a check name not in the suite: before the folder is made
    out = output_folder(args.out, "--out")
    result = run_suite(suite, out, args.update_baseline, args.check, say=status)
    paths = write_outputs(result, out)
    status("wrote " + ", ".join(str(p) for p in paths.values()))
    report(args, result.to_json(), lines(result, table(rows(result), COLUMNS)))
    return result.exit_code
