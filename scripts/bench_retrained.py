"""Retrained model: tuned once, retuned with zero trials through the records library.

Takes a model's records folder (tuned before with some budget), adds a copy of it to a fresh
records library, writes the model "retrained" (the same network with other weights:
`edgetune.frontend.retrain`), and tunes that with the library and the same budget. Then builds
both and times them paired in one process (`bench_pair.time_blocks`: blocks of calls alternate
between the two libraries), and checks the retrained build's outputs against LiteRT running the
retrained `.tflite` (int8: its reference kernels). Reported: trials the retrained tune measured,
its task statuses, wall time, estimates, built latencies and their paired ratio. Prints a table
and writes JSON.

  PYTHONPATH=$PWD python scripts/bench_retrained.py --model mobilenet_v2_fp32 \\
      --records recs/fp32 --work bench-retrained --json bench_retrained.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bench_pair import add_pairing_args, summary, time_blocks  # noqa: E402

from edgetune.board import load_board  # noqa: E402
from edgetune.compile import build_model, export_model  # noqa: E402
from edgetune.frontend import find_model, load_model  # noqa: E402
from edgetune.frontend.retrain import with_other_weights  # noqa: E402
from edgetune.frontend.tflite_import import random_inputs  # noqa: E402
from edgetune.oracle import LiteRTModel, agreement  # noqa: E402
from edgetune.records import RecordStore, open_library, summarize_folder  # noqa: E402
from edgetune.records.manifest import tuned_requantization  # noqa: E402
from edgetune.runtime import load_artifact  # noqa: E402
from edgetune.search import tune_model  # noqa: E402


def tune(model, board, folder: Path, trials: int, library) -> dict:
    """`tune` of `model` into `folder` with the library; what it measured and took."""
    store = RecordStore(folder, model.info, board)
    started = time.time()
    result = tune_model(
        model,
        board,
        store,
        trials,
        seed=0,
        library=library,
        printer=lambda line: print(f"  {line}", file=sys.stderr),
    )
    final = result.final.to_json() if result.final else {}
    return {
        "model": model.info.name,
        "trials_measured": result.progress.trials,
        "library": result.library.to_json() if result.library else None,
        "added_to_library": result.added,
        "final_phase_s": final.get("elapsed_s"),
        "estimate_ms": final.get("estimated_latency_ms"),
        "wall_s": time.time() - started,
        "store": store,
    }


def build(model, board, store: RecordStore, out: Path) -> str:
    built = build_model(model, board, store)
    export_model(built, model, board, out)
    return str(out)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--model", default="mobilenet_v2_fp32", help="shipped model name or .tflite")
    ap.add_argument("--records", required=True, help="the model's records folder (tuned before)")
    ap.add_argument(
        "--trials", type=int, help="budget of both tunes (default: what --records measured)"
    )
    ap.add_argument("--work", default="bench_retrained_work", help="library, folders, builds")
    add_pairing_args(ap)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    if not Path(args.records).is_dir():
        ap.error(f"no records folder {args.records}")

    board = load_board("host")
    requantization = tuned_requantization(args.records)  # an int8 folder's, as tune took it
    model = load_model(find_model(args.model), requantization=requantization)
    work = Path(args.work)
    for name in ("library", "original", "retrained"):
        shutil.rmtree(work / name, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    shutil.copytree(args.records, work / "original", ignore=shutil.ignore_patterns("*.lock"))
    library = open_library(work / "library", board, requantization)
    trials = args.trials or summarize_folder(work / "original").measured

    print(f"== {model.info.name}: its records into the library", file=sys.stderr)
    first = tune(model, board, work / "original", trials, library)
    path = with_other_weights(model.path, work / f"{model.info.name}_retrained.tflite")
    retrained = load_model(path, requantization=requantization)
    print(f"== {retrained.info.name}: tuned with the library", file=sys.stderr)
    second = tune(retrained, board, work / "retrained", trials, library)

    libs = [
        build(m, board, r["store"], work / f"{label}.so")
        for m, r, label in ((model, first, "original"), (retrained, second, "retrained"))
    ]
    inputs = random_inputs(retrained.info, seed=0)
    ours = load_artifact(libs[1], args.threads)(inputs)
    # int8: LiteRT's reference kernels, which edgetune's integer kernels equal
    reference = LiteRTModel(path, threads=1, reference_kernels=retrained.info.quantized)(inputs)
    agree = [agreement(np.asarray(a), np.asarray(b)) for a, b in zip(ours, reference)]
    times = summary(libs, time_blocks(libs, args.threads, args.blocks, args.calls))

    rows = []
    for run, timed in zip((first, second), times):
        run.pop("store")
        rows.append(
            {
                **run,
                "built_median_ms": timed["median_ms"],
                "x_original_paired": timed["ratio_median"],
                "paired_iqr": timed["ratio_iqr"],
            }
        )
    print(
        f"budget {trials} trials, search family, seed 0; {args.blocks} blocks x {args.calls} "
        f"calls per library, {args.threads} threads"
    )
    print(
        "model | trials measured | known/similar/new | wall s | estimate ms | built ms | "
        "x original (paired) | paired IQR"
    )
    for r in rows:
        lib = r["library"] or {}
        statuses = f"{lib.get('known', 0)}/{lib.get('similar', 0)}/{lib.get('new', 0)}"
        lo, hi = r["paired_iqr"]
        est = "n/a" if r["estimate_ms"] is None else f"{r['estimate_ms']:.3f}"
        print(
            f"{r['model']} | {r['trials_measured']} | {statuses} | {r['wall_s']:.0f} | {est} | "
            f"{r['built_median_ms']:.3f} | {r['x_original_paired']:.3f} | [{lo:.3f}, {hi:.3f}]"
        )
    for a in agree:
        print(f"retrained build vs LiteRT (retrained model): {a.describe()}")
    if args.json:
        out = {
            "settings": {
                "trials": trials,
                "search": "family",
                "seed": 0,
                "threads": args.threads,
                "blocks": args.blocks,
                "calls": args.calls,
            },
            "runs": rows,
            "agreement": [a.to_json() for a in agree],
        }
        Path(args.json).write_text(json.dumps(out, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
