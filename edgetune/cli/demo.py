"""`edgetune demo`: the whole flow on a shipped model and the host board, in a few minutes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path

from .numbers import POSITIVE
from .output import status

DEFAULT_MODEL = "tiny_int8"


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="tune -> build -> run -> compare on a shipped model (host board)",
        description="Run the whole edgetune flow on a model shipped with edgetune and the host "
        "board: tasks, a short tune, build, run, and the comparison with LiteRT. Each step is "
        "the same command a user would type, run as its own process; they are printed as they run.",
    )
    p.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"shipped model (default {DEFAULT_MODEL})"
    )
    p.add_argument("--board", default="host", help="board (default host)")
    p.add_argument("--trials", type=POSITIVE, default=48, help="tuning budget (default 48)")
    p.add_argument(
        "--workdir",
        help="where the records, the records library and the built model go (default: a temp "
        "dir); the demo never reads or adds to your own records library",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    from ..outputs import output_folder

    work = output_folder(args.workdir, "--workdir") if args.workdir else None
    work = work or Path(tempfile.mkdtemp(prefix="edgetune-demo-"))
    recs, lib, board = work / "records", work / f"{args.model}.so", ["--board", args.board]
    (work / "library").mkdir(parents=True, exist_ok=True)  # its own: tuned here, not yours
    library = ["--library", str(work / "library")]
    steps = [
        ["tasks", args.model, *board, *library],
        ["tune", args.model, *board, "--trials", str(args.trials), "--records", str(recs),
         *library],
        ["build", args.model, *board, "--records", str(recs), "-o", str(lib), *library],
        ["run", str(lib), *board],
        ["compare", args.model, *board, "--records", str(recs)],
    ]  # fmt: skip
    if importlib.util.find_spec("ai_edge_litert") is None:  # compare needs it: said first
        from ..oracle.litert import NOT_INSTALLED

        status(f"note: {NOT_INSTALLED}; the demo skips `compare`")
        steps = steps[:-1]
    for step in steps:
        status(f"\n$ edgetune {' '.join(step)}")
        code = subprocess.run([sys.executable, "-m", "edgetune", *step]).returncode
        if code:
            status(f"demo stopped at `edgetune {step[0]}`; its files are in {work}")
            return code
    status(f"\ndemo done: records in {recs}, built model {lib}")
    return 0
