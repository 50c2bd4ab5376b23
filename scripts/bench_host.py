#!/usr/bin/env python3
"""MobileNetV2 fp32 and int8 on the host board, side by side in one run.

For each model: untuned TVM, edgetune tuned (from --records-* folders, or tuned here with
--trials into --workdir), and LiteRT (XNNPACK) at 1 and 2 threads; all on the same input, timed
the same way (wall clock per call after warm-up). Everything is loaded first and then timed in
--rounds interleaved passes of --repeat/--rounds calls each, so a load change on this shared
machine hits every row alike; reported: the median over the passes of each pass's median (and
p90). Prints a table and writes JSON.

  python scripts/bench_host.py --records-fp32 recs/fp32 --records-int8 recs/int8
  python scripts/bench_host.py --trials 500 --workdir bench-work --json bench_host.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from functools import partial
from pathlib import Path
from statistics import median

from edgetune.board import load_board
from edgetune.compile import build_model
from edgetune.frontend import load_model
from edgetune.oracle import LiteRTModel, agreement
from edgetune.paths import MODELS_DIR
from edgetune.records import RecordStore
from edgetune.runtime import load_executable, load_inputs
from edgetune.runtime.timing import time_interleaved
from edgetune.search import DEFAULT_SEARCH, SEARCHES, tune_model

MODELS = {"fp32": "mobilenet_v2_fp32", "int8": "mobilenet_v2_int8"}


def records_for(kind: str, args, model, board) -> RecordStore | None:
    given = getattr(args, f"records_{kind}")
    if given:
        return RecordStore(given, model.info, board, create=False)
    if not args.trials:
        return None
    store = RecordStore(Path(args.workdir) / kind, model.info, board)
    tune_model(model, board, store, args.trials, seed=args.seed, search=args.search)
    return store


def bench_model(kind: str, args, board) -> list[dict]:
    """Rows for one model, each with a `timer(n)` (n timed calls -> Latency) still to run."""
    model = load_model(MODELS_DIR / f"{MODELS[kind]}.tflite")
    ref_in = MODELS_DIR / "ref" / f"{MODELS[kind]}.in.npy"
    inputs = load_inputs(model.info, [str(ref_in)])
    rows = []
    reference = LiteRTModel(model.path, threads=args.threads)(inputs)[0]
    for threads in sorted({1, 2}):
        litert = LiteRTModel(model.path, threads=threads)
        rows.append(
            {
                "model": kind,
                "engine": "LiteRT XNNPACK",
                "threads": threads,
                "timer": partial(litert.bench, inputs),
            }
        )
    store = records_for(kind, args, model, board)
    builds = [("TVM untuned", None)] + ([("edgetune tuned", store)] if store else [])
    for engine, recs in builds:
        t0 = time.time()
        built = build_model(model, board, recs)
        exe, tuned, total = built.exe, built.tuned, built.total
        build_s = time.time() - t0
        loaded = load_executable(exe, args.threads)
        out = loaded(inputs)[0]
        rows.append(
            {
                "model": kind,
                "engine": engine,
                "threads": args.threads,
                "timer": partial(loaded.bench, inputs),
                "tuned_tasks": f"{tuned}/{total}",
                "build_s": round(build_s, 1),
                "records": recs.summary().records if recs else 0,
                "agreement_vs_litert": agreement(out, reference).describe(),
            }
        )
    return rows


def time_rows(rows: list[dict], rounds: int, repeat: int) -> None:
    """Time every row in `rounds` interleaved passes; median over passes of median and p90."""
    passes = time_interleaved([row["timer"] for row in rows], rounds, max(1, repeat // rounds))
    for row, lats in zip(rows, passes):
        del row["timer"]
        row["median_ms"] = median(lat.median_ms for lat in lats)
        row["p90_ms"] = median(lat.p90_ms for lat in lats)
        row["pass_medians_ms"] = [round(lat.median_ms, 4) for lat in lats]
    for row in rows:
        litert = next(
            r
            for r in rows
            if r["model"] == row["model"]
            and r["engine"].startswith("LiteRT")
            and r["threads"] == row["threads"]
        )
        row["x_litert_same_threads"] = row["median_ms"] / litert["median_ms"]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records-fp32", help="records folder for mobilenet_v2_fp32 on host")
    p.add_argument("--records-int8", help="records folder for mobilenet_v2_int8 on host")
    p.add_argument("--trials", type=int, default=0, help="tune here when no records are given")
    p.add_argument("--workdir", default="bench-host-work", help="records made with --trials")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--search", choices=SEARCHES, default=DEFAULT_SEARCH, help="search used with --trials"
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=50, help="timed calls per row, all passes")
    p.add_argument("--rounds", type=int, default=5, help="interleaved timing passes")
    p.add_argument("--models", default="fp32,int8", help="comma-separated: fp32,int8")
    p.add_argument("--json", default="bench_host.json", help="where to write the results")
    args = p.parse_args()

    board = load_board("host")
    rows = [row for kind in args.models.split(",") for row in bench_model(kind, args, board)]
    time_rows(rows, args.rounds, args.repeat)
    ratio = {}
    tuned = {r["model"]: r["median_ms"] for r in rows if r["engine"] == "edgetune tuned"}
    if {"fp32", "int8"} <= set(tuned):
        ratio = {"tuned_int8_over_tuned_fp32": tuned["int8"] / tuned["fp32"]}
    cols = [
        "model",
        "engine",
        "threads",
        "median_ms",
        "p90_ms",
        "x_litert_same_threads",
        "tuned_tasks",
        "records",
    ]
    print(" | ".join(cols))
    for r in rows:
        print(
            " | ".join(
                f"{r.get(c, ''):.3f}" if isinstance(r.get(c), float) else str(r.get(c, ""))
                for c in cols
            )
        )
    for r in rows:
        if "agreement_vs_litert" in r:
            print(f"{r['model']} {r['engine']}: {r['agreement_vs_litert']}")
    if ratio:
        print(f"tuned int8 / tuned fp32: {ratio['tuned_int8_over_tuned_fp32']:.3f}")
    result = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "board": board.name,
        "target": str(board.target()),
        "repeat": args.repeat,
        "rounds": args.rounds,
        **ratio,
        "trials": args.trials,
        "search": args.search,
        "rows": rows,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
