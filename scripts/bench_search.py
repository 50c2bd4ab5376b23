#!/usr/bin/env python3
"""Search efficiency: `--search family` vs MetaSchedule's default (`--search ms`), side by side.

For every seed and budget, each method tunes MobileNetV2 fp32 on the host board into a fresh
records folder with the same measured-trial budget. Reported per run: the curve "estimated
end-to-end latency (sum of weight x best task latency) vs measured trials", the final estimate,
the measured latency of the built model (all built models are timed at the end, interleaved, so
both methods see the same machine load), and trials-to-reach: how many trials each method needed
to reach the other's final estimate. A PNG of the curves is written next to the JSON. One tune at
a time (edgetune times one batch at a time per host, so two tunes at once would each wait for
the other's timing turn, and their wall times would say so rather than the search).

    PYTHONPATH=$PWD nice -n 10 python scripts/bench_search.py --budgets 300 --seeds 0 1 2 \\
        --json bench_search.json

Transfer mode (`--transfer`): first tune `--library-models` (other models, `--library-budget`
trials each) into a records library, then, per seed, the target model with a copy of that
library and without one (`--search family` both, equal budgets; the copy keeps one seed's
records out of the next seed's library). Reported per seed: trials each needed to reach the
reference latency (`--reference-ms`, else the run without library's final estimate), final
estimates, built-model latencies and wall times (a table and the JSON; no chart).

    PYTHONPATH=$PWD nice -n 10 python scripts/bench_search.py --transfer --budgets 1000 \
        --seeds 0 1 2 --library-models a.tflite b.tflite c.tflite --library-budget 1000 \
        --reference-ms 5.4 --json bench_transfer.json

Timings come from this machine only; compare methods within one run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from statistics import median

from edgetune.board import load_board
from edgetune.compile import build_model, export_model
from edgetune.frontend import find_model, load_model
from edgetune.paths import MODELS_DIR
from edgetune.records import RecordStore, open_library
from edgetune.report import LineChart, Series
from edgetune.runtime import load_artifact
from edgetune.runtime.inputs import load_inputs
from edgetune.runtime.timing import time_interleaved
from edgetune.search import tune_model
from edgetune.tasks import for_model

METHODS = ("ms", "family")


def trials_to_reach(curve: list[list], target_ms: float) -> int | None:
    """First trial count at which a curve's estimate is at or below target_ms."""
    return next((n for n, est in curve if est is not None and est <= target_ms), None)


def subset(model, board, per_family: int | None, families: list[str] | None) -> set[str] | None:
    """Names of the `per_family` heaviest tasks of every family (or of `families`); None: all."""
    if not per_family and not families:
        return None
    tasks = for_model(model, board).tasks  # heaviest first
    kept: dict[str, list[str]] = {}
    for t in tasks:
        members = kept.setdefault(t.family, [])
        if (not families or t.family in families) and len(members) < (per_family or len(tasks)):
            members.append(t.name)
    return {name for names in kept.values() for name in names}


def tune_run(
    model,
    board,
    work: Path,
    method: str,
    budget: int,
    seed: int,
    keep: set | None,
    library=None,
    label: str | None = None,
):
    label = label or method
    records = work / f"{label}-b{budget}-s{seed}"
    shutil.rmtree(records, ignore_errors=True)
    store = RecordStore(records, model.info, board)
    started = time.time()
    result = tune_model(
        model,
        board,
        store,
        budget,
        seed=seed,
        search=method,
        on_batch=lambda p: print(f"  [{label} s{seed}] {p.line()}", file=sys.stderr, flush=True),
        task_filter=(lambda t: t.name in keep) if keep else None,
        library=library,
    )
    tune_s = time.time() - started
    library = export_model(build_model(model, board, store), model, board, records / "model.so")
    data = result.to_json()
    return {
        "method": label,
        "library": data["library"],
        "budget": budget,
        "seed": seed,
        "tune_s": tune_s,
        "tasks": len(result.tasks),
        "families": len({t.family for t in result.tasks}),
        "search": data["search"],
        "trials": data["trials"],
        "failed_builds": data["failed_builds"],
        "failed_runs": data["failed_runs"],
        "final_estimate_ms": data["estimated_latency_ms"],
        "curve": data["curve"],
        "artifact": str(library.path),
        "tuned_tasks": library.tuned,
    }


def _board(args):
    board = load_board(args.board)
    return replace(board, measure=replace(board.measure, build_timeout_s=args.build_timeout))


def time_artifacts(runs: list[dict], board, model, rounds: int, repeat: int) -> None:
    """Measured end-to-end latency of every built model: `rounds` interleaved passes, median."""
    inputs = load_inputs(model.info, None)
    loaded = [load_artifact(r["artifact"], board.hardware.cores) for r in runs]
    passes = time_interleaved([partial(m.bench, inputs) for m in loaded], rounds, repeat)
    for r, lats in zip(runs, passes):
        r["measured_ms"] = median(lat.median_ms for lat in lats)


def summarize(runs: list[dict]) -> list[dict]:
    """Per (budget, seed): both methods' finals and trials-to-reach the other's final."""
    rows = []
    for budget, seed in sorted({(r["budget"], r["seed"]) for r in runs}):
        pair = {r["method"]: r for r in runs if r["budget"] == budget and r["seed"] == seed}
        if set(pair) != set(METHODS):
            continue
        ms, fam = pair["ms"], pair["family"]
        row = {"budget": budget, "seed": seed}
        for name, r in pair.items():
            row[f"{name}_estimate_ms"] = r["final_estimate_ms"]
            row[f"{name}_measured_ms"] = r.get("measured_ms")
            row[f"{name}_tune_s"] = r["tune_s"]
            row[f"{name}_trials"] = r["trials"]  # ms measures whole rounds: may pass the budget
        if ms["final_estimate_ms"] and fam["final_estimate_ms"]:
            row["family_trials_to_ms_final"] = trials_to_reach(
                fam["curve"], ms["final_estimate_ms"]
            )
            row["ms_trials_to_family_final"] = trials_to_reach(
                ms["curve"], fam["final_estimate_ms"]
            )
        rows.append(row)
    return rows


def print_table(rows: list[dict]) -> None:
    def fmt(v, spec=".3f"):
        return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)

    cols = [
        ("budget", "budget", "d"),
        ("seed", "seed", "d"),
        ("ms_estimate_ms", "ms est", ".3f"),
        ("family_estimate_ms", "fam est", ".3f"),
        ("ms_measured_ms", "ms built", ".3f"),
        ("family_measured_ms", "fam built", ".3f"),
        ("family_trials_to_ms_final", "fam->ms final", "d"),
        ("ms_trials_to_family_final", "ms->fam final", "d"),
        ("ms_trials", "ms trials", "d"),
        ("family_trials", "fam trials", "d"),
        ("ms_tune_s", "ms s", ".0f"),
        ("family_tune_s", "fam s", ".0f"),
    ]
    print("  ".join(f"{h:>13}" for _, h, _ in cols))
    for row in rows:
        print("  ".join(f"{fmt(row.get(k), spec):>13}" for k, _, spec in cols))
    print("latencies in ms (est = sum of weight x best task latency; built = measured model)")


def build_library(args, board, root: Path) -> list[dict]:
    """Tune every --library-models model into the library at `root` (resumable)."""
    library = open_library(root, board)
    done = []
    for name in args.library_models:
        model = load_model(find_model(name))
        store = RecordStore(root.parent / f"library-model-{model.info.name}", model.info, board)
        started = time.time()
        result = tune_model(
            model, board, store, args.library_budget, seed=0, library=library,
            on_batch=lambda p, n=model.info.name: print(f"  [{n}] {p.line()}", file=sys.stderr),
        )  # fmt: skip
        done.append({"model": model.info.name, "tune_s": time.time() - started,
                     "trials": result.progress.trials, "added": result.added})  # fmt: skip
    return done


def transfer_runs(args, board, model, work: Path, keep: set | None) -> list[dict]:
    """Per budget and seed: the model tuned without and with (a copy of) the library."""
    root = work / "library"
    runs = []
    for budget in args.budgets:
        for seed in args.seeds:
            copy = work / f"library-copy-s{seed}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(root, copy, ignore=shutil.ignore_patterns("edgetune.lock"))
            for label, library in (("cold", None), ("library", open_library(copy, board))):
                print(f"== {label} budget {budget} seed {seed}", file=sys.stderr, flush=True)
                runs.append(
                    tune_run(model, board, work, "family", budget, seed, keep, library, label)
                )
    return runs


def summarize_transfer(runs: list[dict], reference_ms: float | None) -> list[dict]:
    """Per (budget, seed): trials and wall time of both runs, trials to reach the reference."""
    rows = []
    for budget, seed in sorted({(r["budget"], r["seed"]) for r in runs}):
        pair = {r["method"]: r for r in runs if r["budget"] == budget and r["seed"] == seed}
        if set(pair) != {"cold", "library"}:
            continue
        ref = reference_ms or pair["cold"]["final_estimate_ms"]
        row = {"budget": budget, "seed": seed, "reference_ms": ref}
        for name, r in pair.items():
            row[f"{name}_estimate_ms"] = r["final_estimate_ms"]
            row[f"{name}_measured_ms"] = r.get("measured_ms")
            row[f"{name}_tune_s"] = r["tune_s"]
            row[f"{name}_trials"] = r["trials"]  # ms measures whole rounds: may pass the budget
            row[f"{name}_trials_to_ref"] = ref and trials_to_reach(r["curve"], ref)
        lib = pair["library"]["library"] or {}
        row.update({k: lib.get(k) for k in ("known", "similar", "new", "reused_records")})
        rows.append(row)
    return rows


def print_transfer_table(rows: list[dict]) -> None:
    cols = ["budget", "seed", "reference_ms", "cold_trials_to_ref", "library_trials_to_ref",
            "cold_estimate_ms", "library_estimate_ms", "cold_measured_ms", "library_measured_ms",
            "cold_tune_s", "library_tune_s", "known", "similar", "new"]  # fmt: skip
    print("  ".join(f"{c:>12.12}" for c in cols))
    for row in rows:
        cells = [row.get(c) for c in cols]
        print("  ".join(f"{'-' if v is None else round(v, 3) if isinstance(v, float) else v!s:>12}"
                        for v in cells))  # fmt: skip
    print("trials to reach the reference estimate; latencies in ms; wall times in s (this host)")


def plot(runs: list[dict], path: Path, title: str) -> None:
    """The estimate curves of every run, as PNG (and SVG next to it)."""
    chart = LineChart(
        f"{title}: estimated latency against trials",
        "measured trials",
        "estimated end-to-end latency (ms)",
        [
            Series(
                f"{r['method']} b{r['budget']} s{r['seed']}",
                [(n, e) for n, e in r["curve"] if e is not None],
            )
            for r in runs
        ],
        log_y=True,
        width=760,
        height=460,
    )
    chart.save(path.with_suffix(".svg"))
    chart.save(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budgets", type=int, nargs="+", default=[200], help="trial budgets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="search seeds")
    ap.add_argument(
        "--per-family",
        type=int,
        help="tune only the N heaviest tasks of each family (default: all)",
    )
    ap.add_argument("--families", nargs="+", help="tune only the tasks of these families")
    ap.add_argument(
        "--build-timeout", type=float, default=300, help="seconds per candidate build (busy hosts)"
    )
    ap.add_argument("--model", default="mobilenet_v2_fp32", help="shipped model name")
    ap.add_argument("--board", default="host")
    ap.add_argument("--work", default="bench_search_work", help="records folders go here")
    ap.add_argument("--json", help="write results here (also written after every run)")
    ap.add_argument("--plot", help="PNG of the curves (default: next to --json, or ./)")
    ap.add_argument(
        "--transfer", action="store_true", help="with vs without a records library (see above)"
    )
    ap.add_argument(
        "--library-models", nargs="+", default=["tiny_fp32"], help="models tuned into the library"
    )
    ap.add_argument("--library-budget", type=int, default=200, help="trials per library model")
    ap.add_argument("--reference-ms", type=float, help="latency to reach (default: cold's final)")
    ap.add_argument("--time-rounds", type=int, default=5, help="interleaved timing passes")
    ap.add_argument("--repeat", type=int, default=20, help="timed runs per pass")
    args = ap.parse_args()

    board = _board(args)
    model = load_model(MODELS_DIR / f"{args.model}.tflite")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    keep = subset(model, board, args.per_family, args.families)
    runs: list[dict] = []
    report = {
        "model": args.model,
        "board": board.name,
        "budgets": args.budgets,
        "seeds": args.seeds,
        "per_family": args.per_family,
        "build_timeout_s": args.build_timeout,
        "tasks_tuned": sorted(keep) if keep else "all",
        "runs": runs,
    }

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")

    if args.transfer:
        report["library_models"] = build_library(args, board, work / "library")
        runs.extend(transfer_runs(args, board, model, work, keep))
        save()
        time_artifacts(runs, board, model, args.time_rounds, args.repeat)
        report["summary"] = summarize_transfer(runs, args.reference_ms)
        save()
        print_transfer_table(report["summary"])
        return 0

    for budget in args.budgets:
        for seed in args.seeds:
            for method in METHODS:
                print(f"== {method} budget {budget} seed {seed}", file=sys.stderr, flush=True)
                runs.append(tune_run(model, board, work, method, budget, seed, keep))
                save()
    time_artifacts(runs, board, model, args.time_rounds, args.repeat)
    report["summary"] = summarize(runs)
    save()
    print_table(report["summary"])
    png = Path(args.plot or (Path(args.json).with_suffix(".png") if args.json else "bench.png"))
    plot(runs, png, f"{model.info.name}, {board.name}")
    print(f"plot: {png}")
    return 0


if __name__ == "__main__":
    from script_main import run_main

    run_main(main)
