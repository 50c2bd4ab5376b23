#!/usr/bin/env python3
"""Farm figures: trials/minute through the tracker vs the local runner (same tiny task, same
budget, one run each, side by side, after an uncounted warm-up), and the emulated board's
setup time (cached; fresh with --qemu-fresh, which downloads ~250 MB into a temporary folder).

    PYTHONPATH=$PWD python scripts/bench_farm.py [--trials 16] [--qemu-fresh] [--json out.json]

Prints a table and JSON. Timings on a shared machine are noisy: compare within one run only.
Emulated (qemu) figures are setup times, never A53 performance.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path

from edgetune.board import load_board
from edgetune.board.board import board_from_dict
from edgetune.farm.drivers.rpc_server import free_port


def matmul(n: int):
    from tvm import te

    a = te.placeholder((n, n), "float32", name="a")
    b = te.placeholder((n, n), "float32", name="b")
    k = te.reduce_axis((0, n), name="k")
    c = te.compute((n, n), lambda i, j: te.sum(a[i, k] * b[k, j], axis=k), name="c")
    return te.create_prim_func([a, b, c]).with_attr("global_symbol", "main")


def tune(board, runner, trials: int, work: Path) -> dict:
    from tvm.s_tir import meta_schedule as ms

    from edgetune.measure import make_builder
    from edgetune.search import tune_tir

    t0 = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    db = ms.database.JSONDatabase(work_dir=str(work))
    tune_tir(
        matmul(64),
        board.target(),
        work,
        trials,
        per_round=min(8, trials),
        builder=make_builder(board),
        runner=runner,
        database=db,
    )
    minutes = (time.monotonic() - t0) / 60
    records = db.get_all_tuning_records()
    valid = [r for r in records if [float(s) for s in r.run_secs] != [1e10]]
    return {
        "trials": len(records),
        "valid": len(valid),
        "minutes": round(minutes, 2),
        "trials_per_minute": round(len(records) / minutes, 1),
    }


def rpc_board():
    """The host board, measured through a tracker and one local rpc server."""
    host = load_board("host")
    raw = dict(host.raw)
    raw["name"] = "host-rpc"
    raw["connection"] = {
        "kind": "rpc",
        "tracker": f"127.0.0.1:{free_port()}",
        "key": "host-rpc",
        "server": {"launch": "local", "count": 1},
    }
    return dataclasses.replace(board_from_dict(raw), measure=host.measure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--qemu-fresh", action="store_true")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    from edgetune.farm import qemu, strategies
    from edgetune.measure import make_runner
    from edgetune.measure.farm_runners import FarmRPCRunner

    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="edgetune-bench-farm-") as tmp:
        root = Path(tmp)
        os.environ["EDGETUNE_FARM_DIR"] = str(root / "state")
        host = load_board("host")
        tune(host, make_runner(host), 2, root / "warmup")  # one-time imports, not counted
        figures["local_runner"] = tune(host, make_runner(host), args.trials, root / "local")
        board = rpc_board()
        try:
            strategies.bring_up(board)
            figures["rpc_tracker"] = tune(board, FarmRPCRunner(board), args.trials, root / "rpc")
        finally:
            strategies.down()

        t0 = time.monotonic()
        qemu.prepare()
        figures["qemu_prepare_cached_s"] = round(time.monotonic() - t0, 2)
        if args.qemu_fresh:
            t0 = time.monotonic()
            qemu.prepare(root / "qemu-fresh")
            figures["qemu_prepare_fresh_s"] = round(time.monotonic() - t0, 1)
        a53 = load_board("qemu-a53")
        raw = dict(a53.raw)
        raw["connection"] = {
            **raw["connection"],
            "tracker": f"127.0.0.1:{free_port()}",
            "server": {**raw["connection"]["server"], "port": free_port()},
        }
        a53 = board_from_dict(raw)
        t0 = time.monotonic()
        try:
            strategies.bring_up(a53)
            figures["qemu_farm_up_cached_s"] = round(time.monotonic() - t0, 1)
        finally:
            strategies.down()

    print(f"{'runner':<14}{'trials':>8}{'valid':>7}{'minutes':>9}{'trials/min':>12}")
    for name in ("local_runner", "rpc_tracker"):
        f = figures[name]
        print(
            f"{name:<14}{f['trials']:>8}{f['valid']:>7}{f['minutes']:>9}{f['trials_per_minute']:>12}"
        )
    print("qemu-a53 (emulated; setup only, not A53 performance):")
    for key in ("qemu_prepare_fresh_s", "qemu_prepare_cached_s", "qemu_farm_up_cached_s"):
        if key in figures:
            print(f"  {key}: {figures[key]}")
    print(json.dumps(figures))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
