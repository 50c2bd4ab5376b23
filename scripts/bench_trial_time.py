#!/usr/bin/env python3
"""Where a tuning trial's time goes: one short tune of a model on a board under MetaSchedule's
Profiler, its wall time split into candidate generation (evolutionary search, cost-model
predictions, postprocessors), building, running, cost-model updates and the rest.

    PYTHONPATH=$PWD python scripts/bench_trial_time.py --trials 128 --json trial_time.json

Each search method (`--search family ms`) tunes into a fresh records folder, one after the
other, the records library off and the final phase off. Builds and runs happen in worker
processes; their time is what the tuner waits for them (MetaSchedule's own scopes: sending to
the builder, then the runner, and joining the runner's futures). The table lists every scope
the profiler saw (nested scopes overlap their parents), each as seconds, share of the wall time
and milliseconds per measured trial. Timings come from this machine only.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from edgetune.board import load_board
from edgetune.frontend import find_model, load_model
from edgetune.measure import timing_turn
from edgetune.records import RecordStore
from edgetune.search import tune_model
from edgetune.tvm_api import ms


def profile_tune(model, board, work: Path, search: str, trials: int, seed: int) -> dict:
    """One tune under the Profiler: {scope: seconds}, wall seconds and measured trials."""
    records = work / f"{search}-t{trials}-s{seed}"
    shutil.rmtree(records, ignore_errors=True)
    store = RecordStore(records, model.info, board)
    started, waited = time.time(), timing_turn.waited_s
    with ms.Profiler() as profiler:
        result = tune_model(
            model, board, store, trials, seed=seed, search=search, final_top=0,
            on_batch=lambda p: print(f"  [{search}] {p.line()}", file=sys.stderr, flush=True),
        )  # fmt: skip
    wall = time.time() - started
    progress = result.progress.to_json()
    return {
        "search": search,
        "trials": result.progress.trials,
        "wall_s": wall,
        "model": model.info.name,
        "seed": seed,
        # in the wall time: waiting while another edgetune process timed on this host
        "waited_for_other_tunes_s": round(timing_turn.waited_s - waited, 3),
        "search_info": result.search,  # round sizes, foresee rounds
        "estimated_ms": progress["estimated_latency_ms"],  # sum of tasks' best x weight
        "curve": progress["curve"],  # [trials, estimated end-to-end ms] after each batch
        "scopes_s": dict(
            sorted(((k, float(v)) for k, v in profiler.get().items()), key=lambda kv: -kv[1])
        ),
    }


def table(run: dict) -> list[str]:
    trials = max(run["trials"], 1)
    estimate = run["estimated_ms"]
    lines = [
        f"search {run['search']}: {run['trials']} trials in {run['wall_s']:.1f} s "
        f"({run['wall_s'] / trials * 1e3:.0f} ms per trial, "
        f"{trials / run['wall_s'] * 60:.0f} trials per minute; "
        f"estimated end-to-end {'-' if estimate is None else f'{estimate:.3f} ms'})",
        *(
            [
                f"  of which {run['waited_for_other_tunes_s']:.1f} s waiting for another edgetune "
                "process timing on this host: not this search's time"
            ]
            if run["waited_for_other_tunes_s"]
            else []
        ),  # fmt: skip
        f"  {'scope':58} {'s':>8} {'% wall':>7} {'ms/trial':>9}",
    ]
    for name, secs in run["scopes_s"].items():
        share = 100 * secs / run["wall_s"]
        if share >= 0.5:
            lines.append(f"  {name:58} {secs:8.1f} {share:6.1f}% {secs / trials * 1e3:9.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="mobilenet_v2_fp32", help="shipped model name")
    parser.add_argument("--board", default="host")
    parser.add_argument("--trials", type=int, default=128, help="measured trials per tune")
    parser.add_argument("--search", nargs="+", default=["family", "ms"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("bench_trial_time"))
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()

    board = load_board(args.board)
    model = load_model(find_model(args.model))
    runs = []
    for search in args.search:
        runs.append(profile_tune(model, board, args.work, search, args.trials, args.seed))
        if args.json:
            args.json.write_text(json.dumps({"board": board.name, "runs": runs}, indent=2))
    for run in runs:
        print("\n".join(table(run)))


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
