"""Candidate builds per batch: MetaSchedule's LocalBuilder (new worker processes for every batch)
against edgetune's PooledBuilder (workers kept across batches), on recorded candidates.

Takes every n-th tuning record of a records folder, replays each on its task, and builds the
candidates in batches of `--batch` with both builders (same compile and export functions, the
board's toolchain), alternating which goes first. Reported: seconds per batch (the first batch,
which starts the pooled workers too, and the median of the rest) and the ratio.

  python scripts/bench_builder.py RECORDS --batch 5 --batches 8 --json builder.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path


def candidates(records: Path, count: int) -> list:
    """`count` recorded schedules spread over the folder, as modules ready to build."""
    from edgetune.records.store import open_json_database
    from edgetune.tvm_api import s_tir

    recs = open_json_database(records, "records folder", "RECORDS").get_all_tuning_records()
    step = max(len(recs) // count, 1)
    mods = []
    for record in recs[::step][:count]:
        sch = s_tir.Schedule(record.workload.mod)
        record.trace.apply_to_schedule(sch, remove_postproc=False)
        mods.append(sch.mod)
    return mods


def time_batches(board_name: str, mods: list, batch: int) -> dict[str, list[float]]:
    """Seconds per batch for each builder, the two alternating which builds a batch first."""
    from edgetune.board import load_board
    from edgetune.measure.builder import ExportSharedLibrary, build_candidate, pooled_builder
    from edgetune.tvm_api import ms

    board = load_board(board_name)
    toolchain = board.toolchain()
    export = ExportSharedLibrary(toolchain.compiler(), toolchain.options)
    pooled = pooled_builder(board, build_candidate, export)  # the board's workers and timeout
    builders = {
        "LocalBuilder": ms.builder.LocalBuilder(
            max_workers=pooled.workers,
            timeout_sec=pooled.timeout_s,
            f_build=build_candidate,
            f_export=export,
        ),
        "PooledBuilder": pooled,
    }
    secs: dict[str, list[float]] = {name: [] for name in builders}
    target = board.target()
    for n, start in enumerate(range(0, len(mods), batch)):
        inputs = [ms.builder.BuilderInput(m, target) for m in mods[start : start + batch]]
        order = list(builders) if n % 2 == 0 else list(builders)[::-1]
        for name in order:
            began = time.perf_counter()
            built = builders[name].build(inputs)
            secs[name].append(time.perf_counter() - began)
            failed = [b.error_msg for b in built if b.error_msg]
            if failed:
                raise SystemExit(f"bench_builder: {name} failed: {failed[0]}")
    pooled.close()
    return secs


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("records", type=Path, help="a records folder (`edgetune tune --records`)")
    p.add_argument("--board", default="host")
    p.add_argument("--batch", type=int, default=5, help="candidates per batch (default 5)")
    p.add_argument("--batches", type=int, default=8, help="batches per builder (default 8)")
    p.add_argument("--json", type=Path, help="where to write the results")
    args = p.parse_args()
    mods = candidates(args.records, args.batch * args.batches)
    secs = time_batches(args.board, mods, args.batch)
    rows = {
        name: {"first_s": s[0], "median_rest_s": statistics.median(s[1:] or s), "batches_s": s}
        for name, s in secs.items()
    }
    print(f"{len(mods)} candidates in batches of {args.batch}, board {args.board}")
    print("builder | first batch s | median of the rest s")
    for name, row in rows.items():
        print(f"{name} | {row['first_s']:.2f} | {row['median_rest_s']:.2f}")
    ratio = rows["PooledBuilder"]["median_rest_s"] / rows["LocalBuilder"]["median_rest_s"]
    print(f"PooledBuilder / LocalBuilder per batch: {ratio:.2f}")
    if args.json:
        settings = {"records": str(args.records), "board": args.board, "batch": args.batch}
        args.json.write_text(json.dumps({"settings": settings, "builders": rows}, indent=1))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
