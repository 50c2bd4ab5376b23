"""Per-task speedup of integer kernels over TVM's QDQ float kernels, tuned with a tiny budget.

For the heaviest conv tasks of a quantized model, tunes the integer task (edgetune.quant, with
the board's tensorize rules added to MetaSchedule's defaults) and the matching QDQ task (TVM's
import: float conv between dequantize and quantize) with the same trial budget, then prints a
table and writes JSON. Timings are this machine's, one run; compare rows within a run only.

    PYTHONPATH=$PWD nice -n 10 python scripts/bench_int8_tasks.py --tasks 4 --trials 32
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from edgetune.board import load_board
from edgetune.frontend import find_model, load_model
from edgetune.records import RecordStore
from edgetune.rules import RuleSet
from edgetune.rules.rule_set import RuleSetParts, register
from edgetune.search import tune_model
from edgetune.tasks import for_model

RULE_SET = "int8-bench"


def _space(board) -> RuleSetParts:
    """MetaSchedule's CPU defaults (RuleSet.parts adds the board's tensorize hooks)."""
    from tvm.s_tir.meta_schedule import Mutator, Postproc, ScheduleRule

    return RuleSetParts(
        list(ScheduleRule.create("llvm")),
        list(Postproc.create("llvm")),
        dict(Mutator.create("llvm")),
    )


def _conv_key(task) -> tuple:
    """Output shape and weight size of a task's conv: the same layer in both imports."""
    from tvm.s_tir.analysis import find_anchor_sblock

    block = find_anchor_sblock(task.mod)
    out = tuple(int(d) for d in block.writes[0].source.shape)
    weight = block.reads[-1].source.shape
    size = 1
    for d in weight:
        size *= int(d)
    return out, size


def _tune(model, board, work: Path, names: set[str], trials: int) -> dict[str, float]:
    store = RecordStore(work, model.info, board)
    tasks = for_model(model, board).tasks
    tune_model(
        model,
        board,
        store,
        trials * len(names),
        seed=0,
        per_round=trials,
        task_filter=lambda t: t.name in names,
    )
    return {t.name: store.best_latency_s(t.mod) for t in tasks if t.name in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--model", default="mobilenet_v2_int8", help="a .tflite file or a shipped model's name"
    )
    ap.add_argument("--board", default="host")
    ap.add_argument("--tasks", type=int, default=4)
    ap.add_argument("--trials", type=int, default=32, help="trials per task")
    ap.add_argument("--build-timeout", type=float, help="seconds (default: the board's)")
    ap.add_argument("--json", default="int8_tasks.json")
    args = ap.parse_args()

    register(RuleSet(RULE_SET, "MetaSchedule defaults + edgetune tensorize hooks", _space))
    board = dataclasses.replace(load_board(args.board), rule_set=RULE_SET)
    if args.build_timeout:
        measure = dataclasses.replace(board.measure, build_timeout_s=args.build_timeout)
        board = dataclasses.replace(board, measure=measure)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        picked: dict[str, dict] = {}
        models = {
            kind: load_model(find_model(args.model), integer_kernels=integer)
            for kind, integer in (("int8", True), ("qdq", False))
        }
        convs = {
            kind: {_conv_key(t): t for t in for_model(m, board).tasks if "conv2d" in t.anchor}
            for kind, m in models.items()
        }
        keys = [k for k in convs["int8"] if k in convs["qdq"]][: args.tasks]  # heaviest first
        if not keys:
            raise SystemExit(f"{args.model}: no conv task found in both imports")
        for kind, model in models.items():
            chosen = [convs[kind][k] for k in keys]
            start = time.time()
            best = _tune(model, board, Path(tmp) / kind, {t.name for t in chosen}, args.trials)
            picked[kind] = {k: (t, best[t.name]) for k, t in zip(keys, chosen)}
            print(f"{kind}: tuned {len(chosen)} tasks in {time.time() - start:.0f} s")
        for key in keys:
            (ti, si), (tq, sq) = picked["int8"][key], picked["qdq"][key]
            rows.append(
                {
                    "int8_task": ti.name,
                    "qdq_task": tq.name,
                    "mflops": round(ti.flops / 1e6, 2),
                    "int8_us": round(si * 1e6, 1) if si else None,
                    "qdq_us": round(sq * 1e6, 1) if sq else None,
                    "speedup": round(sq / si, 2) if si and sq else None,
                }
            )
    for r in rows:
        print(
            f"{r['mflops']:>8} MFLOP  int8 {r['int8_us']} us  qdq {r['qdq_us']} us  "
            f"x{r['speedup']}  ({r['int8_task']})"
        )
    Path(args.json).write_text(
        json.dumps({"board": args.board, "trials_per_task": args.trials, "rows": rows}, indent=1)
    )


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
