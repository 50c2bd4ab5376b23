"""Paired A/B of edgetune libraries of one model: which build is faster, on a noisy machine.

Separate processes of the same library move 10-30 % apart on a shared or virtual machine (the
speed changes between processes, not between calls), so two builds timed in separate processes
differ by as much as the change being measured. Here every library runs in one process, on the
same TVM thread pool, and blocks of calls alternate between them (the order reversed every other
block); each block gives one ratio to the first library, so a slow stretch of the machine slows
both sides of the ratio. Reported: each library's median and p10 block time, and the median and
interquartile range of the paired ratios. Use it to compare builds of one network by one engine
(records, rules, build options; a retrained model's build against the original's);
LiteRT against edgetune belongs in bench_host.py, each engine in its own process.

  python scripts/bench_pair.py before.so after.so --blocks 40 --json pair.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np


def time_blocks(paths: list[str], threads: int, blocks: int, calls: int) -> np.ndarray:
    """Milliseconds per call of each library (rows) in each block (columns)."""
    from edgetune.frontend.tflite_import import random_inputs
    from edgetune.runtime import load_artifact

    loaded = [load_artifact(p, threads) for p in paths]
    networks = {_network(m.info) for m in loaded}  # weights may differ (a retrained model)
    if len(networks) != 1:
        names = sorted({m.info.name for m in loaded})
        sys.exit(f"bench_pair: the libraries are builds of different networks: {names}")
    inputs = random_inputs(loaded[0].info, seed=0)
    runs = []
    for m in loaded:
        args = m.tensors([*inputs, *m.states])
        main = m.vm["main"]
        for _ in range(calls):  # warm-up
            main(*args)
        runs.append((main, args))
    times = np.zeros((len(paths), blocks))
    for b in range(blocks):
        order = range(len(runs)) if b % 2 == 0 else reversed(range(len(runs)))
        for i in order:
            main, args = runs[i]
            start = time.perf_counter()
            for _ in range(calls):
                main(*args)
            times[i, b] = (time.perf_counter() - start) / calls * 1e3
    return times


def _network(info) -> str:
    """What a model's builds share whatever its weights: its operators and tensor signatures."""
    tensors = [[t.name, list(t.shape), t.dtype] for t in (*info.inputs, *info.outputs)]
    return json.dumps([info.ops, info.quantization, tensors], sort_keys=True)


def summary(paths: list[str], times: np.ndarray) -> list[dict]:
    rows = []
    for path, row in zip(paths, times):
        ratio = row / times[0]
        rows.append(
            {
                "library": path,
                "median_ms": float(np.median(row)),
                "p10_ms": float(np.percentile(row, 10)),
                "ratio_median": float(np.median(ratio)),
                "ratio_iqr": [float(np.percentile(ratio, 25)), float(np.percentile(ratio, 75))],
            }
        )
    return rows


def _positive(text: str) -> int:
    """An argument that must be a whole number of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return int(text)


def add_pairing_args(parser: argparse.ArgumentParser) -> None:
    """--threads, --blocks and --calls of `time_blocks`, for this script and those reusing it."""
    parser.add_argument("--threads", type=_positive, default=os.cpu_count() or 1)
    parser.add_argument("--blocks", type=_positive, default=40, help="blocks of calls per library")
    parser.add_argument("--calls", type=_positive, default=20, help="calls per block")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("libraries", nargs="+", help="libraries built by `edgetune build` (host)")
    add_pairing_args(p)
    p.add_argument("--json", help="where to write the results")
    args = p.parse_args()
    if len(args.libraries) < 2:
        p.error("give at least two libraries to compare")
    for lib in args.libraries:
        if not Path(lib).is_file():
            p.error(f"no such library: {lib}")

    from edgetune.errors import EdgetuneError
    from edgetune.measure.free_cores import StealClock

    clock = StealClock.start()
    try:
        times = time_blocks(args.libraries, args.threads, args.blocks, args.calls)
    except EdgetuneError as err:  # not an edgetune library, built for another board, damaged
        sys.exit(f"bench_pair: {err}")
    steal = clock.share()
    rows = summary(args.libraries, times)
    print(
        f"{args.blocks} blocks x {args.calls} calls per library, {args.threads} threads; "
        f"hypervisor steal {steal:.1%} of CPU time"
    )
    print("library | median_ms | p10_ms | x first (paired median) | paired IQR")
    for r in rows:
        lo, hi = r["ratio_iqr"]
        print(
            f"{r['library']} | {r['median_ms']:.3f} | {r['p10_ms']:.3f} | "
            f"{r['ratio_median']:.3f} | [{lo:.3f}, {hi:.3f}]"
        )
    if args.json:
        settings = {
            "threads": args.threads,
            "blocks": args.blocks,
            "calls": args.calls,
            "steal": steal,
        }
        Path(args.json).write_text(json.dumps({"settings": settings, "libraries": rows}, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
