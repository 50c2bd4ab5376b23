"""Would a cheap pre-filter (Pruner-style) rank candidates better than the learned cost model?

Offline, on a tuned records folder: every measured candidate of every task gets MetaSchedule's
per-store features (`PerStoreFeature`, as its XGBModel sees them) and is scored by

- `bound`: an analytical compute bound, the sum over its stores of arithmetic operations
  divided by the vector lanes and the cores it uses (a roofline's compute side, from the same
  features: no build, no measurement);
- `xgb N`: XGBoost trained on N measured candidates of the *other* tasks (summed per-store
  features, normalized throughput as MetaSchedule's model learns it): the learned model early in
  a tune (N small) and late (every other task);
- `xgb N + bound`: the two rankings added (the bound as a pre-filter of the learned model).

Per task it reports the Spearman correlation of each score with the measured latencies and how
many of the task's fastest tenth survive when the score drops the worse half (a pre-filter must
keep them). The candidates are those the search chose to measure, so every score is judged
where it matters: among schedules a search already found plausible.

  python scripts/bench_prefilter.py RECORDS --json prefilter.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

LANES_FP32 = 16  # AVX-512 (the host boards measured here); the bound only ranks within a task
OPS = slice(0, 14)  # float_mad .. int_other_func: arithmetic of either type
VEC_LEN, PARALLEL_PROD = 18, 39


MIN_CANDIDATES = 8  # measured candidates a task needs for its rankings to be compared


def load_tasks(records: Path, board_name: str) -> dict[str, dict]:
    """Per workload: measured latencies (s) and per-store features of each candidate."""
    from edgetune.board import load_board
    from edgetune.records import FAILED_RUN_SECS
    from edgetune.records.store import open_json_database
    from edgetune.tvm_api import ms

    target = load_board(board_name).target()
    db = open_json_database(records, "records folder", "RECORDS")
    grouped: dict[str, tuple] = {}
    for rec in db.get_all_tuning_records():
        secs = [float(x) for x in rec.run_secs or []]
        if not secs or min(secs) >= FAILED_RUN_SECS:  # failed builds and runs
            continue
        key = str(rec.workload.as_json()[0])
        grouped.setdefault(key, (rec.workload, []))[1].append((rec, float(np.mean(secs))))
    extractor = ms.feature_extractor.PerStoreFeature()
    tasks = {}
    for key, (workload, recs) in grouped.items():
        context = ms.TuneContext(mod=workload.mod, target=target, task_name=key)
        feats = extractor.extract_from(context, [r.as_measure_candidate() for r, _ in recs])
        tasks[key] = {
            "latency": np.array([s for _, s in recs]),
            "feats": [f.numpy() for f in feats],
        }
    return tasks


def _unlog(v: np.ndarray) -> np.ndarray:
    """MetaSchedule's features are sign(x) * log2(|x| + 1)."""
    return np.sign(v) * (np.exp2(np.abs(v)) - 1)


def compute_bound(feats: np.ndarray, cores: int) -> float:
    """Sum over stores of arithmetic ops / (vector lanes used x cores used)."""
    total = 0.0
    for store in feats:
        lanes = min(max(1.0, _unlog(store[VEC_LEN])), LANES_FP32)
        used = min(max(1.0, _unlog(store[PARALLEL_PROD])), cores)
        total += _unlog(store[OPS]).sum() / (lanes * used)
    return total


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (records are in measurement order: a tie broken by position
    would credit a score with the search's progress)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def kept_best(score: np.ndarray, latency: np.ndarray, rng: np.random.Generator) -> float:
    """Share of the fastest tenth still there after dropping the worse-scored half (ties
    broken at random)."""
    n = len(latency)
    best = set(np.argsort(latency)[: max(1, n // 10)])
    kept = set(np.lexsort((rng.random(n), score))[: n // 2])
    return len(best & kept) / len(best)


def learned_scores(tasks: dict[str, dict], key: str, samples: int | None, seed: int) -> np.ndarray:
    """Predicted slowness of task `key`'s candidates by XGBoost trained on other tasks."""
    import xgboost as xgb

    others = [k for k in tasks if k != key]
    xs = np.concatenate([np.array([f.sum(axis=0) for f in tasks[k]["feats"]]) for k in others])
    ys = np.concatenate([tasks[k]["latency"].min() / tasks[k]["latency"] for k in others])
    if samples is not None and samples < len(xs):
        pick = np.random.default_rng(seed).choice(len(xs), samples, replace=False)
        xs, ys = xs[pick], ys[pick]
    params = {"max_depth": 6, "eta": 0.1, "verbosity": 0, "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(xs, ys), 100)
    own = np.array([f.sum(axis=0) for f in tasks[key]["feats"]])
    return -booster.predict(xgb.DMatrix(own))


def evaluate(tasks: dict[str, dict], cores: int, samples: list[int | None], seed: int) -> dict:
    """Median Spearman and mean kept-best share of each score over tasks with >= 8 records."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, score: np.ndarray, latency: np.ndarray) -> None:
        rows.setdefault(name, []).append((spearman(score, latency), kept_best(score, latency, rng)))

    for key, task in tasks.items():
        latency = task["latency"]
        if len(latency) < MIN_CANDIDATES:
            continue
        bound = np.array([compute_bound(f, cores) for f in task["feats"]])
        add("random", rng.random(len(latency)), latency)
        add("bound", bound, latency)
        for n in samples:
            learned = learned_scores(tasks, key, n, seed)
            label = f"xgb {n or 'all other tasks'}"
            add(label, learned, latency)
            add(f"{label} + bound", _ranks(learned) + _ranks(bound), latency)
    return {
        name: {
            "spearman_median": float(np.median([r for r, _ in v])),
            "spearman_mean": float(np.mean([r for r, _ in v])),
            "kept_best_mean": float(np.mean([k for _, k in v])),
            "tasks": len(v),
        }
        for name, v in rows.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", type=Path, help="a tuned records folder")
    parser.add_argument("--board", default="host")
    parser.add_argument("--cores", type=int, default=2, help="cores the bound may use")
    parser.add_argument("--samples", default="64,200,all", help="training sizes of the xgb rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    samples = [None if s == "all" else int(s) for s in args.samples.split(",")]
    tasks = load_tasks(args.records, args.board)
    result = evaluate(tasks, args.cores, samples, args.seed)
    records = sum(len(t["latency"]) for t in tasks.values())
    print(f"{args.records}: {len(tasks)} tasks, {records} measured candidates")
    if not result:
        print(f"no task has {MIN_CANDIDATES} measured candidates or more: nothing to rank")
    print("| score | Spearman median | mean | fastest tenth kept by the better half |")
    print("|---|---|---|---|")
    for name, r in result.items():
        print(
            f"| {name} | {r['spearman_median']:+.2f} | {r['spearman_mean']:+.2f}"
            f" | {r['kept_best_mean']:.2f} |"
        )
    if args.json:
        doc = {"records": str(args.records), "tasks": len(tasks), "candidates": records}
        args.json.write_text(json.dumps({**doc, "scores": result}, indent=1))


if __name__ == "__main__":
    main()
