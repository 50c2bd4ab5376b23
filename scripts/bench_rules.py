#!/usr/bin/env python3
"""Board rule set vs MetaSchedule's default, same tasks and trial budget, in one run.

For three MobileNetV2 fp32 tasks (the heaviest conv, the heaviest depthwise conv, the
classifier matmul) on the host board and on the PoCL "Mali" board, tune each
task with --trials trials under the board's rule set and under `default` (MetaSchedule's
built-in rules for the target: for OpenCL the CUDA rules with shared-memory staging) and report
the best measured time. Equal budgets, same seed, same machine, same run.

PoCL runs OpenCL on this CPU: its times rank kernels for PoCL here, not for a Mali GPU.

  python scripts/bench_rules.py --trials 8 --json bench_rules.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import tempfile
import time
from pathlib import Path

from edgetune.board import load_board
from edgetune.frontend import load_model
from edgetune.paths import shipped_model
from edgetune.records import RecordStore
from edgetune.search import tune_model
from edgetune.tasks import for_model

ANCHORS = {"conv": "conv2d_nhwc", "depthwise": "group_conv2d_nhwc", "matmul": "matmul"}


def pick_tasks(board, model, count: int) -> dict[str, str]:
    tasks = for_model(model, board).tasks
    picked: dict[str, str] = {}
    for label, anchor in ANCHORS.items():
        picked[label] = next(t.name for t in tasks if t.anchor == anchor)  # heaviest first
    return dict(list(picked.items())[:count])


def tune_one(model, board, rule_set: str, task: str, trials: int, seed: int, workdir: Path):
    variant = dataclasses.replace(board, rule_set=rule_set)
    store = RecordStore(workdir / f"{board.name}-{rule_set}-{task}", model.info, variant)
    started = time.time()
    result = tune_model(
        model,
        variant,
        store,
        trials,
        seed=seed,
        per_round=trials,
        on_batch=lambda _: None,
        task_filter=lambda t: t.name == task,
    )
    (entry,) = result.to_json()["tasks"]
    p = result.progress
    return {
        "best_us": entry["best_us"],
        "trials": entry["trials"],
        "failed": p.failed_builds + p.failed_runs,
        "seconds": round(time.time() - started, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int, default=8, help="trials per task and rule set (8)")
    ap.add_argument("--tasks", type=int, default=3, help="how many tasks (3, at most 3)")
    ap.add_argument("--boards", default="host,mali-pocl")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default="bench_rules.json")
    args = ap.parse_args()

    model = load_model(str(shipped_model("mobilenet_v2_fp32.tflite")))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as work:
        for board_name in args.boards.split(","):
            board = load_board(board_name)
            for label, task in pick_tasks(board, model, args.tasks).items():
                for rule_set in (board.rule_set, "default"):
                    r = tune_one(model, board, rule_set, task, args.trials, args.seed, Path(work))
                    row = {
                        "board": board.name,
                        "task": task,
                        "kind": label,
                        "rule_set": rule_set,
                        **r,
                    }
                    rows.append(row)
                    print(json.dumps(row), flush=True)

    print(f"\n{'board':10} {'task (kind)':42} {'rule set':11} {'best us':>10} {'failed':>6}")
    for r in rows:
        best = f"{r['best_us']:.1f}" if r["best_us"] else "none"
        kind = f"{r['task']} ({r['kind']})"
        print(f"{r['board']:10} {kind:42} {r['rule_set']:11} {best:>10} {r['failed']:>6}")
    print("mali-pocl times: OpenCL events on PoCL (this CPU), not Mali GPU times")
    report = {
        "trials_per_task": args.trials,
        "seed": args.seed,
        "machine": platform.processor() or platform.machine(),
        "note": "mali-pocl times are PoCL-on-host-CPU kernel times, not Mali GPU times",
        "rows": rows,
    }
    Path(args.json).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
