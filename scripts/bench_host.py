#!/usr/bin/env python3
"""Models on the host board: edgetune against LiteRT, side by side in one run.

For each model (MobileNetV2 `fp32` and `int8` by default; `--models` also takes a real model of
the corpus by name, fetched by scripts/fetch_corpus.py, or any .tflite): untuned TVM, edgetune
tuned (from --records folders, or tuned here with --trials into --workdir), and LiteRT (XNNPACK)
at 1 and 2 threads, all on the same input (MobileNetV2's reference input, else seeded random
inputs). Every engine is timed in a process of its own (edgetune/oracle/isolated.py: TVM's
spinning thread pool would slow whatever runs next in the same process), one process per engine
per round, --rounds rounds with the engines in a rotating order, so a load change on this shared
machine hits every row alike.
Each process loads its engine, warms up, and times --repeat calls (wall clock per call);
reported: the median over the rounds of each round's median, p90 and p10, and against LiteRT
the ratios of those medians and p10s, with the range of each round's own p10 ratio (how far
single rounds disagree: on a shared machine the speed moves from one process to the next, so
only many rounds average it out), and the median steal share of its rounds (the CPU time a
virtual machine's hypervisor gave other guests while the engine was timed; 0 on bare metal).
Also the lower quartile of the round medians (`q25_ms`) and its ratio to LiteRT's: a shared
machine's slow phases (memory slowed by other tenants) slow whole rounds by ~1.5x, so the
median says how often they met an engine, the lower quartile how fast it runs outside them (as
long as fewer than three rounds in four are slow).
Prints a table and writes JSON.

  python scripts/bench_host.py --records-fp32 recs/fp32 --records-int8 recs/int8
  python scripts/bench_host.py --trials 1000 --workdir bench-work --json bench_host.json
  python scripts/bench_host.py --records-int8 recs/int8 --artifact int8:before=old/int8.so
  python scripts/bench_host.py --models mp_palm_detection_full --records mp_palm_detection_full=R
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from edgetune.oracle.isolated import LITERT, TVM, EngineRun, summary, time_rotating

MODELS = {"fp32": "mobilenet_v2_fp32", "int8": "mobilenet_v2_int8"}
CORPUS = Path.home() / ".cache" / "edgetune" / "corpus" / "models"  # fetch_corpus.py's cache


def model_file(kind: str) -> Path:
    """`fp32` / `int8` (MobileNetV2), a corpus model's name, or a .tflite path."""
    from edgetune.frontend import find_model
    from edgetune.paths import MODELS_DIR

    if kind in MODELS:
        return MODELS_DIR / f"{MODELS[kind]}.tflite"
    fetched = CORPUS / f"{kind}.tflite"
    return fetched if fetched.is_file() else Path(find_model(kind))


def input_files(kind: str, info, work: Path) -> list[str]:
    """MobileNetV2's reference input; for other models seeded random inputs saved in `work`."""
    import numpy as np

    from edgetune.paths import MODELS_DIR
    from edgetune.runtime import load_inputs

    if kind in MODELS:
        return [str(MODELS_DIR / "ref" / f"{MODELS[kind]}.in.npy")]
    paths = [str(work / f"{info.name}.in{i}.npy") for i in range(len(info.inputs))]
    for path, x in zip(paths, load_inputs(info, None)):
        np.save(path, x)
    return paths


def labelled(specs: list[str], kind: str) -> list[tuple[str, str]]:
    """(LABEL, PATH) of the MODEL:LABEL=PATH options given for model `kind`."""
    found = []
    for spec in specs:
        model, _, rest = spec.partition(":")
        label, _, path = rest.partition("=")
        if model == kind:
            found.append((label, path))
    return found


def prepare(kind: str, args, board, work: Path) -> list[dict]:
    """Rows for one model: tune if asked, build the TVM libraries; the engines to time."""
    from edgetune.compile import build_model, export_model
    from edgetune.frontend import load_model
    from edgetune.records import RecordStore
    from edgetune.records.manifest import tuned_requantization
    from edgetune.search import tune_model

    @functools.cache
    def load(requantization: str):
        """The model imported with `requantization` (once per mode)."""
        return load_model(model_file(kind), requantization=requantization)

    given = args.records.get(kind)
    model = load(args.requantize or tuned_requantization(given))
    shapes = [list(t.shape) for t in model.info.inputs]  # dynamic dimensions as imported
    common = {"model": kind, "inputs": input_files(kind, model.info, work)}
    rows = [
        {**common, "engine": LITERT, "label": "LiteRT XNNPACK", "threads": t,
         "path": str(model.path), "input_shapes": shapes}
        for t in sorted({1, args.threads})
    ]  # fmt: skip
    store = None
    if given:
        store = RecordStore(given, model.info, board, create=False)
    elif args.trials:
        store = RecordStore(Path(args.workdir) / kind, model.info, board)
        t0 = time.time()
        tune_model(model, board, store, args.trials, seed=args.seed, search=args.search)
        common["tune_s"] = round(time.time() - t0, 1)
    builds = [] if args.no_untuned else [("TVM untuned", model, None)]
    builds += [("edgetune tuned", model, store)] if store else []
    for label, path in labelled(args.also, kind):  # records folders
        also = load(tuned_requantization(path))
        also_store = RecordStore(path, also.info, board, create=False)
        builds.append((f"edgetune tuned ({label})", also, also_store))
    for label, path in labelled(args.artifact, kind):  # libraries built elsewhere
        rows.append(
            {**common, "engine": TVM, "label": f"edgetune ({label})",
             "threads": args.threads, "path": str(Path(path).resolve())}
        )  # fmt: skip
    for label, built, recs in builds:
        t0 = time.time()
        lib = export_model(
            build_model(built, board, recs), built, board, work / f"{kind}-{len(rows)}.so"
        )
        rows.append(
            {
                **common,
                "engine": TVM,
                "label": label,
                "threads": args.threads,
                "path": str(lib.path),
                "tuned_tasks": f"{lib.tuned}/{lib.total}",
                "requantization": built.info.requantization if built.info.quantized else "",
                "build_s": round(time.time() - t0, 1),
                "records": recs.summary().records if recs else 0,
                "search": _search_of(recs),
            }
        )
    return rows


def _search_of(store) -> str:
    """The search that tuned a records folder, as its task list says ("" untuned/unknown)."""
    from edgetune.records import read_tasks

    tasks = read_tasks(store.path) if store else None
    return (tasks or {}).get("tuned_with", {}).get("search", "")


def time_rows(rows: list[dict], rounds: int, repeat: int, work: Path) -> None:
    """Each row timed in its own process, once per round, in a rotating order."""
    runs = []
    for i, row in enumerate(rows):
        row["outputs"] = str(work / f"out-{i}.npz")
        runs.append(
            EngineRun(row["engine"], row["path"], row["threads"], row["inputs"], repeat,
                      row.get("input_shapes"), row["outputs"])
        )  # fmt: skip
    for row, timed in zip(rows, time_rotating(runs, rounds)):
        row.update(summary(timed))
        row["q25_ms"] = sorted(row["round_medians_ms"])[(rounds - 1) // 4]
        row["round_p10s_ms"] = [round(lat["p10_ms"], 4) for lat in timed]
    for row in rows:
        litert = next(
            r
            for r in rows
            if r["model"] == row["model"]
            and r["engine"] == LITERT
            and r["threads"] == row["threads"]
        )
        row["x_litert_same_threads"] = row["median_ms"] / litert["median_ms"]
        row["x_litert_p10"] = row["p10_ms"] / litert["p10_ms"]
        row["x_litert_q25"] = row["q25_ms"] / litert["q25_ms"]
        paired = [
            mine / theirs for mine, theirs in zip(row["round_p10s_ms"], litert["round_p10s_ms"])
        ]
        row["x_litert_p10_paired_range"] = [round(min(paired), 3), round(max(paired), 3)]


def agreements(rows: list[dict]) -> None:
    """Each TVM row's outputs against LiteRT's (same model), output by output."""
    import numpy as np

    from edgetune.oracle import agreement

    def outputs(row: dict) -> list:
        with np.load(row["outputs"]) as saved:
            return [saved[f"arr_{i}"] for i in range(len(saved.files))]

    for row in rows:
        if row["engine"] != TVM:
            continue
        litert = next(r for r in rows if r["model"] == row["model"] and r["engine"] == LITERT)
        row["agreement_vs_litert"] = "; ".join(
            agreement(ours, ref).describe() for ours, ref in zip(outputs(row), outputs(litert))
        )


def main() -> None:
    from edgetune.quant.float_requantization import REQUANTIZATIONS

    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--records-fp32", help="records folder for mobilenet_v2_fp32 on host")
    p.add_argument("--records-int8", help="records folder for mobilenet_v2_int8 on host")
    p.add_argument(
        "--records",
        action="append",
        default=[],
        metavar="MODEL=RECORDS",
        help="records folder for a model of --models, e.g. mp_palm_detection_full=recs/palm",
    )
    p.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="MODEL:LABEL=RECORDS",
        help="another records folder timed in the same run, e.g. fp32:busy-host=recs/busy",
    )
    p.add_argument(
        "--artifact",
        action="append",
        default=[],
        metavar="MODEL:LABEL=LIB",
        help="a library built before (e.g. by an older edgetune) timed in the same run, "
        "e.g. int8:v0.7=old/int8.so",
    )
    p.add_argument("--trials", type=int, default=0, help="tune here when no records are given")
    p.add_argument("--workdir", default="bench-host-work", help="records made with --trials")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--search", default="family", help="search used with --trials (family|ms)")
    p.add_argument(
        "--requantize",
        choices=REQUANTIZATIONS,
        help="int8 requantization tuned with --trials (default: the records folder's)",
    )
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--repeat", type=int, default=50, help="timed calls per process")
    p.add_argument("--rounds", type=int, default=5, help="processes per engine (rotating order)")
    p.add_argument(
        "--models",
        default="fp32,int8",
        help="comma-separated: fp32 and int8 (MobileNetV2), corpus model names, .tflite paths",
    )
    p.add_argument(
        "--no-untuned",
        action="store_true",
        help="leave out the untuned TVM build (its calls take most of a run's time)",
    )
    p.add_argument("--board", default="host", help="host board file or name (default host)")
    p.add_argument("--json", default="bench_host.json", help="where to write the results")
    args = p.parse_args()
    args.records = dict(spec.partition("=")[::2] for spec in args.records)
    for kind in MODELS:
        if getattr(args, f"records_{kind}"):
            args.records[kind] = getattr(args, f"records_{kind}")
    kinds = args.models.split(",")
    named = [*args.records, *(s.partition(":")[0] for s in args.also + args.artifact)]
    if stray := sorted(set(named) - set(kinds)):
        p.error(f"--records/--also/--artifact name {', '.join(stray)}, not in --models {kinds}")

    from edgetune.board import load_board

    board = load_board(args.board)
    with tempfile.TemporaryDirectory(prefix="bench-host-") as tmp:
        work = Path(tmp)
        rows = [row for kind in kinds for row in prepare(kind, args, board, work)]
        time_rows(rows, args.rounds, args.repeat, work)
        agreements(rows)
    for row in rows:
        for key in ("outputs", "path", "inputs", "input_shapes"):
            row.pop(key, None)
    ratio = {}
    tuned = {r["model"]: r for r in rows if r["label"] == "edgetune tuned"}
    if {"fp32", "int8"} <= set(tuned):
        ratio = {
            f"tuned_int8_over_tuned_fp32{suffix}": tuned["int8"][stat] / tuned["fp32"][stat]
            for suffix, stat in (("", "median_ms"), ("_p10", "p10_ms"))
        }
    cols = ["model", "label", "threads", "median_ms", "p90_ms", "x_litert_same_threads",
            "p10_ms", "x_litert_p10", "x_litert_p10_paired_range", "q25_ms", "x_litert_q25",
            "host_steal", "tuned_tasks", "records", "search", "requantization"]  # fmt: skip
    print(" | ".join(cols))
    for r in rows:
        cells = [r.get(c, "") for c in cols]
        print(" | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells))
    for r in rows:
        if "agreement_vs_litert" in r:
            print(f"{r['model']} {r['label']}: {r['agreement_vs_litert']}")
    if ratio:
        print(
            f"tuned int8 / tuned fp32: {ratio['tuned_int8_over_tuned_fp32']:.3f} "
            f"(p10: {ratio['tuned_int8_over_tuned_fp32_p10']:.3f})"
        )
    result = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "board": board.name,
        "target": str(board.target()),
        "timing": "each engine in its own process, rotating order",
        "repeat": args.repeat,
        "rounds": args.rounds,
        **ratio,
        # tunes made here (--trials); rows of given records say their search and records
        "tuned_here": {"trials": args.trials, "search": args.search, "seed": args.seed}
        if args.trials
        else None,
        "rows": rows,
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
